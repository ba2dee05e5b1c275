// explain_abi_mismatch / describe_abi (host/src/hosting/abi_check.cpp): one case per fingerprint field.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/host/hosting/abi_check.hpp"

namespace {

using ijepa::host::describe_abi;
using ijepa::host::explain_abi_mismatch;
using ijepa::host::host_abi_info;

IjepaAbiInfo plugin() { return ijepa::sdk::make_abi_info("org.ijepa.test.unit", "0.1.0"); }

// The mismatch line for `p` against the host; fails the test if there is none.
std::string why(const IjepaAbiInfo& p) {
  auto w = explain_abi_mismatch(p, host_abi_info());
  EXPECT_TRUE(w.has_value()) << "expected a mismatch";
  if (!w) return "";
  EXPECT_EQ(w->find('\n'), std::string::npos) << *w;
  return *w;
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

TEST(AbiCheck, HostFingerprintDescribesThisBuild) {
  const IjepaAbiInfo& h = host_abi_info();
  EXPECT_EQ(h.size, sizeof(IjepaAbiInfo));
  EXPECT_STREQ(h.plugin_id, "org.ijepa.host");
  EXPECT_EQ(h.sdk_major, IJEPA_SDK_VERSION_MAJOR);
  EXPECT_EQ(h.sdk_minor, IJEPA_SDK_VERSION_MINOR);
  EXPECT_EQ(h.torch_major, TORCH_VERSION_MAJOR);
  EXPECT_EQ(h.torch_minor, TORCH_VERSION_MINOR);
  EXPECT_EQ(h.torch_patch, TORCH_VERSION_PATCH);
  EXPECT_EQ(h.cxx11_abi, 1) << "the project builds with _GLIBCXX_USE_CXX11_ABI=1";
  EXPECT_EQ(h.reserved[0] | h.reserved[1] | h.reserved[2], 0);
}

TEST(AbiCheck, SameToolchainMatches) { EXPECT_FALSE(explain_abi_mismatch(plugin(), host_abi_info()).has_value()); }

TEST(AbiCheck, FingerprintTooSmall) {
  IjepaAbiInfo p = plugin();
  p.size = 64;
  EXPECT_TRUE(contains(why(p), "ABI fingerprint too small (size 64 < 112)")) << why(p);
  p.size = 0;
  EXPECT_TRUE(contains(why(p), "too small"));
}

TEST(AbiCheck, LargerFingerprintFromANewerMinorLayoutIsFine) {
  IjepaAbiInfo p = plugin();
  p.size = sizeof(IjepaAbiInfo) + 16;  // grow-only: the host reads the prefix it knows
  EXPECT_FALSE(explain_abi_mismatch(p, host_abi_info()).has_value());
}

TEST(AbiCheck, SdkMajorMustBeEqual) {
  IjepaAbiInfo p = plugin();
  p.sdk_major = static_cast<std::uint16_t>(host_abi_info().sdk_major + 1);
  EXPECT_TRUE(contains(why(p), "SDK major version " + std::to_string(p.sdk_major) + " != host SDK major " +
                                   std::to_string(host_abi_info().sdk_major)))
      << why(p);
  p.sdk_major = 0;
  EXPECT_TRUE(contains(why(p), "SDK major version 0 != host SDK major"));
}

TEST(AbiCheck, SdkMinorMayBeOlderButNotNewer) {
  IjepaAbiInfo h = host_abi_info();
  h.sdk_minor = 3;
  IjepaAbiInfo p = plugin();
  p.sdk_minor = 2;
  EXPECT_FALSE(explain_abi_mismatch(p, h).has_value());
  p.sdk_minor = 3;
  EXPECT_FALSE(explain_abi_mismatch(p, h).has_value());
  p.sdk_minor = 4;
  auto w = explain_abi_mismatch(p, h);
  ASSERT_TRUE(w.has_value());
  const std::string maj = std::to_string(h.sdk_major);
  EXPECT_TRUE(contains(*w, "SDK minor version " + maj + ".4 is newer than the host's " + maj + ".3")) << *w;
}

TEST(AbiCheck, TorchVersionMustMatchExactly) {
  for (int field = 0; field < 3; ++field) {
    IjepaAbiInfo p = plugin();
    std::uint16_t* f = field == 0 ? &p.torch_major : field == 1 ? &p.torch_minor : &p.torch_patch;
    *f = static_cast<std::uint16_t>(*f + 1);
    const std::string w = why(p);
    EXPECT_TRUE(contains(w, "torch version " + std::to_string(p.torch_major) + "." + std::to_string(p.torch_minor) +
                                "." + std::to_string(p.torch_patch) + " != host torch"))
        << w;
  }
}

TEST(AbiCheck, Cxx11AbiFlag) {
  IjepaAbiInfo p = plugin();
  p.cxx11_abi = 0;
  EXPECT_TRUE(contains(why(p), "_GLIBCXX_USE_CXX11_ABI=0 != host's 1")) << why(p);
}

TEST(AbiCheck, DebugContainers) {
  IjepaAbiInfo p = plugin();
  p.glibcxx_debug = 2;
  EXPECT_TRUE(contains(why(p), "debug-container flag (_GLIBCXX_DEBUG/_GLIBCXX_ASSERTIONS) 2 != host's 0")) << why(p);
  p.glibcxx_debug = 1;
  EXPECT_TRUE(contains(why(p), "debug-container flag")) << why(p);
}

TEST(AbiCheck, CompilerFamilyAndMajorMustMatchMinorMayDiffer) {
  IjepaAbiInfo p = plugin();
  p.compiler = host_abi_info().compiler - host_abi_info().compiler % 1000u + 999u;  // other minor
  EXPECT_FALSE(explain_abi_mismatch(p, host_abi_info()).has_value());
  p.compiler = host_abi_info().compiler + 1000u;  // next major
  EXPECT_TRUE(contains(why(p), "compiler ")) << why(p);
  EXPECT_TRUE(contains(why(p), "!= host compiler")) << why(p);
  p.compiler = 2000000u + 19u * 1000u + 1u;  // clang 19.1
  EXPECT_TRUE(contains(why(p), "compiler clang 19.1 != host compiler")) << why(p);
}

TEST(AbiCheck, StdlibRelease) {
  IjepaAbiInfo p = plugin();
  p.stdlib_release = host_abi_info().stdlib_release + 1;
  EXPECT_TRUE(contains(why(p), "libstdc++ release " + std::to_string(p.stdlib_release) + " != host's " +
                                   std::to_string(host_abi_info().stdlib_release)))
      << why(p);
}

TEST(AbiCheck, JsonVersionAndDiagnostics) {
  IjepaAbiInfo p = plugin();
  p.json_version = 31003;  // 3.10.3
  EXPECT_TRUE(contains(why(p), "nlohmann_json 3.10.3 != host's ")) << why(p);
  p = plugin();
  p.json_diagnostics = static_cast<std::uint8_t>(host_abi_info().json_diagnostics == 0 ? 1 : 0);
  EXPECT_TRUE(contains(why(p), "nlohmann_json")) << why(p);
  EXPECT_TRUE(contains(why(p), "(diagnostics)")) << why(p);
}

TEST(AbiCheck, PluginIdAndVersionStrings) {
  IjepaAbiInfo p = plugin();
  p.plugin_id[0] = '\0';
  EXPECT_EQ(why(p), "plugin id is empty or not NUL-terminated");
  p = plugin();
  std::memset(p.plugin_id, 'a', sizeof(p.plugin_id));
  EXPECT_EQ(why(p), "plugin id is empty or not NUL-terminated");
  p = plugin();
  std::memset(p.plugin_version, '9', sizeof(p.plugin_version));
  EXPECT_EQ(why(p), "plugin version is not NUL-terminated");
  p = plugin();
  p.plugin_version[0] = '\0';  // an empty version is allowed
  EXPECT_FALSE(explain_abi_mismatch(p, host_abi_info()).has_value());
}

TEST(AbiCheck, FirstMismatchingFieldIsReported) {
  IjepaAbiInfo p = plugin();
  p.sdk_major = static_cast<std::uint16_t>(p.sdk_major + 1);
  p.cxx11_abi = 0;
  p.torch_patch = static_cast<std::uint16_t>(p.torch_patch + 7);
  EXPECT_TRUE(contains(why(p), "SDK major")) << why(p);
}

// make_abi_info truncates on purpose; GCC rightly warns about the truncation it can see here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
TEST(AbiCheck, MakeAbiInfoTruncatesLongIdsAndStaysTerminated) {
  const std::string long_id(200, 'x');
  IjepaAbiInfo p = ijepa::sdk::make_abi_info(long_id.c_str(), "0.1.0-with-a-long-suffix");
  EXPECT_EQ(p.plugin_id[sizeof(p.plugin_id) - 1], '\0');
  EXPECT_EQ(std::strlen(p.plugin_id), sizeof(p.plugin_id) - 1);
  EXPECT_EQ(p.plugin_version[sizeof(p.plugin_version) - 1], '\0');
  EXPECT_FALSE(explain_abi_mismatch(p, host_abi_info()).has_value());
}
#pragma GCC diagnostic pop

TEST(AbiCheck, DescribeAbiNamesEveryField) {
  const std::string d = describe_abi(plugin());
  EXPECT_TRUE(contains(d, "org.ijepa.test.unit 0.1.0")) << d;
  EXPECT_TRUE(contains(d, "SDK " + std::to_string(IJEPA_SDK_VERSION_MAJOR) + "." +
                              std::to_string(IJEPA_SDK_VERSION_MINOR)))
      << d;
  EXPECT_TRUE(contains(d, "torch " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
                              "." + std::to_string(TORCH_VERSION_PATCH)))
      << d;
  EXPECT_TRUE(contains(d, "cxx11_abi 1")) << d;
  EXPECT_TRUE(contains(d, "libstdc++ ")) << d;
  EXPECT_TRUE(contains(d, "nlohmann_json 3.")) << d;
#if defined(__clang__)
  EXPECT_TRUE(contains(d, "clang ")) << d;
#elif defined(__GNUC__)
  EXPECT_TRUE(contains(d, "gcc " + std::to_string(__GNUC__) + ".")) << d;
#endif
}

TEST(AbiCheck, DescribeAbiCopesWithUnterminatedStrings) {
  IjepaAbiInfo p = plugin();
  std::memset(p.plugin_id, 'a', sizeof(p.plugin_id));
  std::memset(p.plugin_version, 'b', sizeof(p.plugin_version));
  const std::string d = describe_abi(p);
  EXPECT_TRUE(contains(d, std::string(sizeof(p.plugin_id), 'a') + " " + std::string(sizeof(p.plugin_version), 'b')))
      << d;
}

}  // namespace
