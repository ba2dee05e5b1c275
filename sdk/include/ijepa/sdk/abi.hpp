#pragma once
// Plain-C ABI fingerprint of a plugin, readable before the host trusts any C++ symbol of it.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>
#include <torch/version.h>

#include "ijepa/sdk/version.hpp"

#if defined(__GNUC__)
#define IJEPA_EXPORT extern "C" __attribute__((visibility("default")))
#define IJEPA_SDK_VISIBLE __attribute__((visibility("default")))
#else
#define IJEPA_EXPORT extern "C"
#define IJEPA_SDK_VISIBLE
#endif

#ifndef _GLIBCXX_USE_CXX11_ABI
#define IJEPA_CXX11_ABI_VALUE 0
#else
#define IJEPA_CXX11_ABI_VALUE _GLIBCXX_USE_CXX11_ABI
#endif

#if defined(_GLIBCXX_DEBUG)
#define IJEPA_GLIBCXX_DEBUG_VALUE 2
#elif defined(_GLIBCXX_ASSERTIONS)
#define IJEPA_GLIBCXX_DEBUG_VALUE 1
#else
#define IJEPA_GLIBCXX_DEBUG_VALUE 0
#endif

// compiler: family * 1000000 + major * 1000 + minor (family 1 = GCC, 2 = Clang)
#if defined(__clang__)
#define IJEPA_COMPILER_VALUE (2000000u + __clang_major__ * 1000u + __clang_minor__)
#elif defined(__GNUC__)
#define IJEPA_COMPILER_VALUE (1000000u + __GNUC__ * 1000u + __GNUC_MINOR__)
#else
#define IJEPA_COMPILER_VALUE 0u
#endif

#ifdef _GLIBCXX_RELEASE
#define IJEPA_STDLIB_RELEASE_VALUE static_cast<std::uint32_t>(_GLIBCXX_RELEASE)
#else
#define IJEPA_STDLIB_RELEASE_VALUE 0u
#endif

#define IJEPA_JSON_VERSION_VALUE                                                        \
  (static_cast<std::uint32_t>(NLOHMANN_JSON_VERSION_MAJOR) * 10000u +                   \
   static_cast<std::uint32_t>(NLOHMANN_JSON_VERSION_MINOR) * 100u +                     \
   static_cast<std::uint32_t>(NLOHMANN_JSON_VERSION_PATCH))

#if defined(JSON_DIAGNOSTICS) && JSON_DIAGNOSTICS
#define IJEPA_JSON_DIAGNOSTICS_VALUE 1
#else
#define IJEPA_JSON_DIAGNOSTICS_VALUE 0
#endif

extern "C" {
// Standard-layout POD; `size` leads so the host can tell grown versions apart. Grow-only.
struct IjepaAbiInfo {
  std::uint32_t size;              // sizeof(IjepaAbiInfo) as the plugin saw it
  std::uint16_t sdk_major;         // must equal the host's
  std::uint16_t sdk_minor;         // must be <= the host's
  std::uint16_t torch_major;       // TORCH_VERSION_MAJOR
  std::uint16_t torch_minor;       // TORCH_VERSION_MINOR
  std::uint16_t torch_patch;       // TORCH_VERSION_PATCH
  std::uint8_t cxx11_abi;          // _GLIBCXX_USE_CXX11_ABI
  std::uint8_t glibcxx_debug;      // 0 none, 1 _GLIBCXX_ASSERTIONS, 2 _GLIBCXX_DEBUG
  std::uint32_t compiler;          // IJEPA_COMPILER_VALUE
  std::uint32_t stdlib_release;    // _GLIBCXX_RELEASE
  std::uint32_t json_version;      // nlohmann major*10000 + minor*100 + patch
  std::uint8_t json_diagnostics;   // JSON_DIAGNOSTICS
  std::uint8_t reserved[3];        // zero
  char plugin_id[64];              // reverse-DNS id, NUL-terminated, e.g. "org.ijepa.encoder.vit"
  char plugin_version[16];         // semantic version, NUL-terminated, e.g. "0.1.0"
};
}

static_assert(sizeof(IjepaAbiInfo) == 112, "IjepaAbiInfo layout changed: bump IJEPA_SDK_VERSION_MAJOR");

namespace ijepa::sdk {
// The fingerprint of whatever translation unit includes this header (host or plugin).
inline IjepaAbiInfo make_abi_info(const char* plugin_id, const char* plugin_version) noexcept {
  IjepaAbiInfo a{};
  a.size = sizeof(IjepaAbiInfo);
  a.sdk_major = IJEPA_SDK_VERSION_MAJOR;
  a.sdk_minor = IJEPA_SDK_VERSION_MINOR;
  a.torch_major = TORCH_VERSION_MAJOR;
  a.torch_minor = TORCH_VERSION_MINOR;
  a.torch_patch = TORCH_VERSION_PATCH;
  a.cxx11_abi = IJEPA_CXX11_ABI_VALUE;
  a.glibcxx_debug = IJEPA_GLIBCXX_DEBUG_VALUE;
  a.compiler = IJEPA_COMPILER_VALUE;
  a.stdlib_release = IJEPA_STDLIB_RELEASE_VALUE;
  a.json_version = IJEPA_JSON_VERSION_VALUE;
  a.json_diagnostics = IJEPA_JSON_DIAGNOSTICS_VALUE;
  std::strncpy(a.plugin_id, plugin_id, sizeof(a.plugin_id) - 1);
  std::strncpy(a.plugin_version, plugin_version, sizeof(a.plugin_version) - 1);
  return a;
}
}  // namespace ijepa::sdk

namespace ijepa::sdk::detail {
// Whether a string literal fits a fixed field of `size` bytes with its NUL; other arguments are not checked here.
template <class T>
constexpr bool fits_field(const T&, std::size_t) {
  return true;
}
template <std::size_t N>
constexpr bool fits_field(const char (&)[N], std::size_t size) {
  return N <= size;
}
}  // namespace ijepa::sdk::detail

// Defines the first entry point: `const IjepaAbiInfo* ijepa_plugin_abi() noexcept`. An id over 63 characters or a
// version over 15 does not compile (the fields would cut it short).
#define IJEPA_PLUGIN_ABI(ID, VERSION)                                                   \
  static_assert(::ijepa::sdk::detail::fits_field(ID, sizeof(IjepaAbiInfo::plugin_id)),  \
                "IJEPA_PLUGIN_ABI: the plugin id is longer than 63 characters");        \
  static_assert(::ijepa::sdk::detail::fits_field(VERSION, sizeof(IjepaAbiInfo::plugin_version)), \
                "IJEPA_PLUGIN_ABI: the plugin version is longer than 15 characters");   \
  IJEPA_EXPORT const IjepaAbiInfo* ijepa_plugin_abi() noexcept {                       \
    static const IjepaAbiInfo info = ::ijepa::sdk::make_abi_info(ID, VERSION);          \
    return &info;                                                                      \
  }
