#include "ijepa/host/util/errors.hpp"

#include <c10/util/Exception.h>

namespace ijepa::host {

std::string error_line(const std::exception& e) {
  std::string s = e.what();
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) s = c->what_without_backtrace();
  if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

}  // namespace ijepa::host
