#pragma once
// Services the host hands to a plugin at registration. C-shaped so it never changes layout silently.
#include <cstdint>
#include <string>

extern "C" {
enum IjepaLogLevel : int { IJEPA_LOG_DEBUG = 0, IJEPA_LOG_INFO = 1, IJEPA_LOG_WARN = 2, IJEPA_LOG_ERROR = 3 };

// [thread-safe] Valid for the whole life of the process; plugins may keep the pointer.
struct IjepaHostServices {
  std::uint32_t size;                                   // sizeof(IjepaHostServices) in the host
  void* ctx;                                            // opaque host context
  void (*log)(void* ctx, int level, const char* msg);   // routed into the host's spdlog sink
  const char* host_version;                             // workbench version string
};
}

namespace ijepa::sdk {
using HostServices = IjepaHostServices;

// [thread-safe] Logs one message through the host (no-op if host is null).
inline void log(const HostServices* host, int level, const std::string& msg) noexcept {
  if (host != nullptr && host->log != nullptr) host->log(host->ctx, level, msg.c_str());
}
inline void log_info(const HostServices* host, const std::string& msg) noexcept { log(host, IJEPA_LOG_INFO, msg); }
inline void log_warn(const HostServices* host, const std::string& msg) noexcept { log(host, IJEPA_LOG_WARN, msg); }
inline void log_error(const HostServices* host, const std::string& msg) noexcept { log(host, IJEPA_LOG_ERROR, msg); }
}  // namespace ijepa::sdk
