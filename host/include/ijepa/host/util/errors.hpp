#pragma once
// The host's error types that every layer may throw (the bottom layer: no other host header).
#include <stdexcept>
#include <string>

namespace ijepa::host {

// A config problem; the message names the component, key and plugin.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// error_line(e) -> the first line of e.what(), without the C++ backtrace torch's errors (c10::Error) carry: the
// message of a status.json, a log line, an error on stderr.
std::string error_line(const std::exception& e);

}  // namespace ijepa::host
