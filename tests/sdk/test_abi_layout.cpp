// The layout of the plain-C ABI fingerprint (sdk/include/ijepa/sdk/abi.hpp) is part of the SDK contract:
// the host reads it from plugins built against any SDK of the same major. Any change here is a MAJOR bump
// (architecture §3.6); this file fails to compile if the layout moves.
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/host_services.hpp"
#include "ijepa/sdk/version.hpp"

static_assert(std::is_standard_layout_v<IjepaAbiInfo>, "IjepaAbiInfo must stay standard-layout");
static_assert(std::is_trivially_copyable_v<IjepaAbiInfo>, "IjepaAbiInfo must stay a POD");
static_assert(std::is_trivially_default_constructible_v<IjepaAbiInfo>, "IjepaAbiInfo must stay a POD");
static_assert(sizeof(IjepaAbiInfo) == 112, "IjepaAbiInfo size changed");
static_assert(alignof(IjepaAbiInfo) == 4, "IjepaAbiInfo alignment changed");

static_assert(offsetof(IjepaAbiInfo, size) == 0, "size must lead");
static_assert(offsetof(IjepaAbiInfo, sdk_major) == 4);
static_assert(offsetof(IjepaAbiInfo, sdk_minor) == 6);
static_assert(offsetof(IjepaAbiInfo, torch_major) == 8);
static_assert(offsetof(IjepaAbiInfo, torch_minor) == 10);
static_assert(offsetof(IjepaAbiInfo, torch_patch) == 12);
static_assert(offsetof(IjepaAbiInfo, cxx11_abi) == 14);
static_assert(offsetof(IjepaAbiInfo, glibcxx_debug) == 15);
static_assert(offsetof(IjepaAbiInfo, compiler) == 16);
static_assert(offsetof(IjepaAbiInfo, stdlib_release) == 20);
static_assert(offsetof(IjepaAbiInfo, json_version) == 24);
static_assert(offsetof(IjepaAbiInfo, json_diagnostics) == 28);
static_assert(offsetof(IjepaAbiInfo, reserved) == 29);
static_assert(offsetof(IjepaAbiInfo, plugin_id) == 32);
static_assert(offsetof(IjepaAbiInfo, plugin_version) == 96);

static_assert(sizeof(IjepaAbiInfo::size) == 4 && sizeof(IjepaAbiInfo::sdk_major) == 2 &&
              sizeof(IjepaAbiInfo::sdk_minor) == 2 && sizeof(IjepaAbiInfo::torch_major) == 2 &&
              sizeof(IjepaAbiInfo::torch_minor) == 2 && sizeof(IjepaAbiInfo::torch_patch) == 2 &&
              sizeof(IjepaAbiInfo::cxx11_abi) == 1 && sizeof(IjepaAbiInfo::glibcxx_debug) == 1 &&
              sizeof(IjepaAbiInfo::compiler) == 4 && sizeof(IjepaAbiInfo::stdlib_release) == 4 &&
              sizeof(IjepaAbiInfo::json_version) == 4 && sizeof(IjepaAbiInfo::json_diagnostics) == 1 &&
              sizeof(IjepaAbiInfo::reserved) == 3 && sizeof(IjepaAbiInfo::plugin_id) == 64 &&
              sizeof(IjepaAbiInfo::plugin_version) == 16,
              "IjepaAbiInfo field widths changed");

// The HostServices table is C-shaped too and grows only at the end.
static_assert(std::is_standard_layout_v<IjepaHostServices> && std::is_trivially_copyable_v<IjepaHostServices>);
static_assert(offsetof(IjepaHostServices, size) == 0);
static_assert(offsetof(IjepaHostServices, ctx) == 8);
static_assert(offsetof(IjepaHostServices, log) == 16);
static_assert(offsetof(IjepaHostServices, host_version) == 24);
static_assert(sizeof(IjepaHostServices) == 32);
static_assert(IJEPA_LOG_DEBUG == 0 && IJEPA_LOG_INFO == 1 && IJEPA_LOG_WARN == 2 && IJEPA_LOG_ERROR == 3);

namespace {

TEST(AbiLayout, MakeAbiInfoFillsEveryField) {
  const IjepaAbiInfo a = ijepa::sdk::make_abi_info("org.ijepa.test.layout", "9.8.7");
  EXPECT_EQ(a.size, sizeof(IjepaAbiInfo));
  EXPECT_EQ(a.sdk_major, IJEPA_SDK_VERSION_MAJOR);
  EXPECT_EQ(a.sdk_minor, IJEPA_SDK_VERSION_MINOR);
  EXPECT_EQ(a.torch_major, TORCH_VERSION_MAJOR);
  EXPECT_EQ(a.torch_minor, TORCH_VERSION_MINOR);
  EXPECT_EQ(a.torch_patch, TORCH_VERSION_PATCH);
  EXPECT_EQ(a.cxx11_abi, IJEPA_CXX11_ABI_VALUE);
  EXPECT_EQ(a.glibcxx_debug, IJEPA_GLIBCXX_DEBUG_VALUE);
  EXPECT_EQ(a.compiler, IJEPA_COMPILER_VALUE);
  EXPECT_NE(a.compiler, 0u);
  EXPECT_EQ(a.stdlib_release, IJEPA_STDLIB_RELEASE_VALUE);
  EXPECT_EQ(a.json_version, static_cast<std::uint32_t>(NLOHMANN_JSON_VERSION_MAJOR * 10000 +
                                                       NLOHMANN_JSON_VERSION_MINOR * 100 + NLOHMANN_JSON_VERSION_PATCH));
  EXPECT_EQ(a.json_diagnostics, IJEPA_JSON_DIAGNOSTICS_VALUE);
  EXPECT_EQ(a.reserved[0] | a.reserved[1] | a.reserved[2], 0);
  EXPECT_STREQ(a.plugin_id, "org.ijepa.test.layout");
  EXPECT_STREQ(a.plugin_version, "9.8.7");
}

TEST(AbiLayout, SdkVersionStringMatchesTheMacros) {
  EXPECT_STREQ(IJEPA_SDK_VERSION_STRING,
               (std::to_string(IJEPA_SDK_VERSION_MAJOR) + "." + std::to_string(IJEPA_SDK_VERSION_MINOR)).c_str());
}

}  // namespace

// The fixed fields would cut a longer id or version short, and two plugins whose ids differ after the 63rd
// character would look alike: IJEPA_PLUGIN_ABI refuses both at compile time.
static_assert(ijepa::sdk::detail::fits_field("a.b.c", sizeof(IjepaAbiInfo::plugin_id)));
static_assert(ijepa::sdk::detail::fits_field("0123456789012345678901234567890123456789012345678901234567890.b",
                                             sizeof(IjepaAbiInfo::plugin_id)));  // 63 characters
static_assert(!ijepa::sdk::detail::fits_field("0123456789012345678901234567890123456789012345678901234567890.bc",
                                              sizeof(IjepaAbiInfo::plugin_id)));  // 64
static_assert(!ijepa::sdk::detail::fits_field("0.1.0-rc.1+build7", sizeof(IjepaAbiInfo::plugin_version)));

namespace {

// Compiles `source` (syntax only) with the SDK's include paths; the compiler's exit status and what it printed.
int compile(const std::string& source, std::string* output) {
  const std::string dir = ::testing::TempDir();
  const std::string file = dir + "ijepa_abi_macro_" + std::to_string(::getpid()) + ".cpp";
  std::ofstream(file) << source;
  std::string cmd = std::string("'") + IJEPA_CXX_COMPILER + "' -std=c++17 -fsyntax-only -I'" + IJEPA_SDK_INCLUDE + "'";
  for (const char* inc : {IJEPA_TORCH_INCLUDES}) cmd += std::string(" -I'") + inc + "'";
  cmd += " '" + file + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (std::size_t n; p != nullptr && (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int rc = p != nullptr ? ::pclose(p) : -1;
  std::remove(file.c_str());
  *output = out;
  return rc;
}

std::string plugin_with(const std::string& id, const std::string& version) {
  return "#include \"ijepa/sdk/abi.hpp\"\nIJEPA_PLUGIN_ABI(\"" + id + "\", \"" + version + "\")\n";
}

}  // namespace

TEST(AbiLayout, APluginIdOrVersionTooLongForItsFieldDoesNotCompile) {
  const std::string id63 = "org.example." + std::string(51, 'x'), id64 = id63 + "y";
  ASSERT_EQ(id63.size(), 63u);
  std::string out;
  EXPECT_EQ(compile(plugin_with(id63, "0.1.0-rc.123456"), &out), 0) << out;  // 63 and 15 characters fit
  EXPECT_NE(compile(plugin_with(id64, "0.1.0"), &out), 0) << out;
  EXPECT_NE(out.find("IJEPA_PLUGIN_ABI: the plugin id is longer than 63 characters"), std::string::npos) << out;
  EXPECT_NE(compile(plugin_with(id63, "0.1.0-rc.1234567"), &out), 0) << out;
  EXPECT_NE(out.find("IJEPA_PLUGIN_ABI: the plugin version is longer than 15 characters"), std::string::npos) << out;
}
