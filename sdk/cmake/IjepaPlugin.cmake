# ijepa_add_plugin(<name> SOURCES ... [PRIVATE_LIBS ...] [OUTPUT_DIR dir])
# Builds a plugin MODULE "ijepa_<name>.so" exporting only the two SDK entry points, with hidden
# visibility and no undefined symbols. Works in-tree and out-of-tree (after find_package(ijepa_sdk)).
function(ijepa_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;PRIVATE_LIBS" ${ARGN})
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ijepa::sdk ${ARG_PRIVATE_LIBS})
  if(NOT ARG_OUTPUT_DIR)
    if(DEFINED IJEPA_PLUGIN_DIR)
      set(ARG_OUTPUT_DIR ${IJEPA_PLUGIN_DIR})
    else()
      set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
    endif()
  endif()
  set_target_properties(${name} PROPERTIES
      PREFIX "" OUTPUT_NAME "ijepa_${name}"
      CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON POSITION_INDEPENDENT_CODE ON
      LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  target_link_options(${name} PRIVATE
      "LINKER:--version-script=${_IJEPA_SDK_CMAKE_DIR}/plugin.map"
      "LINKER:-z,defs")
  if(COMMAND ijepa_warnings)
    ijepa_warnings(${name})
  else()  # out of tree: the warnings the SDK's headers are kept clean of
    target_compile_options(${name} PRIVATE -Wall -Wextra)
  endif()
  if(COMMAND ijepa_use_torch_pch)
    ijepa_use_torch_pch(${name})
  endif()
endfunction()
set(_IJEPA_SDK_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "")
