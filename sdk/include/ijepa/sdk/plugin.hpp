#pragma once
// The one header a plugin includes: ABI macro, registrar, interfaces, capabilities, helpers.
#include <exception>
#include <string>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/config.hpp"
#include "ijepa/sdk/distance.hpp"
#include "ijepa/sdk/host_services.hpp"
#include "ijepa/sdk/linear.hpp"
#include "ijepa/sdk/monitor.hpp"
#include "ijepa/sdk/registrar.hpp"
#include "ijepa/sdk/seeds.hpp"
#include "ijepa/sdk/tensor_ops.hpp"
#include "ijepa/sdk/version.hpp"

namespace ijepa::sdk {

// Runs fn() for ijepa_plugin_register: returns 0, or logs the error through the host and returns 1. Never throws.
template <class Fn>
int guarded_entry(const HostServices* host, Fn&& fn) noexcept {
  try {
    fn();
    return 0;
  } catch (const std::exception& e) {
    log_error(host, std::string("registration failed: ") + e.what());
  } catch (...) {
    log_error(host, "registration failed: unknown exception");
  }
  return 1;
}

}  // namespace ijepa::sdk

// Declares the second entry point. Use as: IJEPA_PLUGIN_REGISTER(reg, host) { reg->add_encoder(...); }
#define IJEPA_PLUGIN_REGISTER(REG, HOST)                                                          \
  static void ijepa_plugin_register_impl(::ijepa::sdk::Registrar* REG,                            \
                                         const ::ijepa::sdk::HostServices* HOST);                 \
  IJEPA_EXPORT int ijepa_plugin_register(::ijepa::sdk::Registrar* reg,                            \
                                         const ::ijepa::sdk::HostServices* host) noexcept {       \
    return ::ijepa::sdk::guarded_entry(host, [&] { ijepa_plugin_register_impl(reg, host); });    \
  }                                                                                               \
  static void ijepa_plugin_register_impl(::ijepa::sdk::Registrar* REG,                            \
                                         [[maybe_unused]] const ::ijepa::sdk::HostServices* HOST)
