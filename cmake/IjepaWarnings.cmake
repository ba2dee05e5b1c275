# ijepa_warnings(target): the project's warning set, applied to every target we own.
function(ijepa_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local -Wnon-virtual-dtor
                                           -Wno-unused-parameter)
  if(IJEPA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
