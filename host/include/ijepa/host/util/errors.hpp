#pragma once
// The host's error types that every layer may throw (the bottom layer: no other host header).
#include <stdexcept>

namespace ijepa::host {

// A config problem; the message names the component, key and plugin.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace ijepa::host
