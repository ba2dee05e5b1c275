// PluginHost (host/src/hosting/plugin_loader.cpp) with real shared libraries from tests/fixtures/plugins:
// the good plugin loads and its component works; each kind of bad input is refused with one line naming the
// file and the reason, while the good plugin next to it keeps working.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <ATen/ATen.h>
#include <torch/version.h>

#include "host/hosting/fixture_plugins.hpp"
#include "ijepa/sdk/version.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace {

namespace fs = std::filesystem;
using ijepa::host::Component;
using ijepa::host::ConfigError;
using ijepa::host::Kind;
using ijepa::host::PluginError;
using ijepa::host::PluginHost;
using ijepa::test::fixture_dir;
using ijepa::test::fixture_file;
using ijepa::test::only_dirs;
using ijepa::test::rejection_for;

const char* kGoodId = "org.ijepa.test.good";

ijepa::sdk::LossInput input_of(const at::Tensor& prediction) {
  ijepa::sdk::LossInput in;
  in.prediction = prediction;
  return in;
}

// The good fixture's loss builds from `cfg` and computes scale * mean(prediction).
void expect_good_loss_works(const PluginHost& h) {
  const ijepa::sdk::BuildContext ctx;
  Component<ijepa::sdk::Loss> loss =
      h.registry().make_loss({{"type", "fixture_good"}, {"scale", 2.0}}, ctx, "components.loss");
  ASSERT_TRUE(loss);
  EXPECT_EQ(loss.plugin_id, kGoodId);
  EXPECT_EQ(loss.type, "loss/fixture_good");
  const auto out = loss.call([](ijepa::sdk::Loss& l) { return l.compute(input_of(at::full({2, 3}, 3.0))); });
  EXPECT_DOUBLE_EQ(out.loss.item<double>(), 6.0);
  EXPECT_DOUBLE_EQ(out.metrics.at("repeat"), 2.0);
}

TEST(PluginLoaderGood, LoadsRegistersAndBuildsACallableComponent) {
  PluginHost h;
  const fs::path file = fixture_file("good");
  ASSERT_TRUE(fs::exists(file)) << file;
  ASSERT_TRUE(h.load_file(file, false)) << (h.rejected().empty() ? "" : h.rejected().back().reason);
  EXPECT_TRUE(h.rejected().empty());
  ASSERT_EQ(h.loaded().size(), 1u);
  const auto& p = h.loaded()[0];
  EXPECT_EQ(p.plugin_id, kGoodId);
  EXPECT_EQ(p.plugin_version, "1.2.3");
  EXPECT_EQ(p.path, file.string());
  EXPECT_EQ(p.sha256.size(), 64u);
  EXPECT_EQ(p.sha256.find_first_not_of("0123456789abcdef"), std::string::npos) << p.sha256;

  const auto* e = h.registry().find(Kind::loss, "fixture_good");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->origin.plugin_id, kGoodId);
  EXPECT_EQ(e->origin.plugin_version, "1.2.3");
  EXPECT_EQ(e->origin.path, file.string());
  EXPECT_TRUE(e->origin.library != nullptr);
  EXPECT_EQ(e->defaults["repeat"], 2);
  EXPECT_TRUE(e->doc.contains("window"));
  expect_good_loss_works(h);
}

TEST(PluginLoaderGood, LoadAllScansADirectory) {
  PluginHost h;
  h.load_all(only_dirs({fixture_dir("good")}));
  EXPECT_TRUE(h.rejected().empty()) << h.rejected().front().path << ": " << h.rejected().front().reason;
  ASSERT_EQ(h.loaded().size(), 1u);
  EXPECT_EQ(h.loaded()[0].plugin_id, kGoodId);
  ASSERT_EQ(h.searched().size(), 1u);
  EXPECT_EQ(h.searched()[0], fs::weakly_canonical(fixture_dir("good")));
  expect_good_loss_works(h);
}

TEST(PluginLoaderGood, ExceptionsFromPluginCodeComeBackAsPluginErrorTaggedWithThePluginId) {
  PluginHost h;
  ASSERT_TRUE(h.load_file(fixture_file("good"), false));
  const ijepa::sdk::BuildContext ctx;
  // std::runtime_error thrown inside the plugin.
  auto disabled = h.registry().make_loss({{"type", "fixture_good"}, {"enabled", false}}, ctx, "components.loss");
  try {
    disabled.call([](ijepa::sdk::Loss& l) { return l.compute(input_of(at::ones({1}))); });
    FAIL() << "expected a PluginError";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin_id(), kGoodId);
    const std::string what = e.what();
    EXPECT_NE(what.find("plugin org.ijepa.test.good"), std::string::npos) << what;
    EXPECT_NE(what.find("loss/fixture_good"), std::string::npos) << what;
    EXPECT_NE(what.find("fixture loss is disabled"), std::string::npos) << what;
  }
  // c10::Error (TORCH_CHECK) thrown inside the plugin.
  auto loss = h.registry().make_loss({{"type", "fixture_good"}}, ctx, "components.loss");
  try {
    loss.call([](ijepa::sdk::Loss& l) { return l.compute(input_of(at::Tensor())); });
    FAIL() << "expected a PluginError";
  } catch (const PluginError& e) {
    EXPECT_EQ(e.plugin_id(), kGoodId);
    EXPECT_NE(std::string(e.what()).find("prediction is undefined"), std::string::npos) << e.what();
  }
  // A throwing factory is a config problem naming the component and the plugin.
  try {
    h.registry().make_loss({{"type", "fixture_good"}, {"label", "explode"}}, ctx, "components.loss");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("components.loss"), std::string::npos) << what;
    EXPECT_NE(what.find("loss/fixture_good (plugin org.ijepa.test.good)"), std::string::npos) << what;
    EXPECT_NE(what.find("refuses label 'explode'"), std::string::npos) << what;
  }
}

TEST(PluginLoaderGood, ComponentsKeepTheirLibraryAndOutliveTheHost) {
  auto h = std::make_unique<PluginHost>();
  ASSERT_TRUE(h->load_file(fixture_file("good"), false));
  std::weak_ptr<void> lib = h->registry().find(Kind::loss, "fixture_good")->origin.library;
  const long before = lib.use_count();
  ASSERT_GT(before, 0);
  Component<ijepa::sdk::Loss> loss;
  {
    const ijepa::sdk::BuildContext ctx;
    loss = h->registry().make_loss({{"type", "fixture_good"}}, ctx, "components.loss");
  }
  EXPECT_EQ(lib.use_count(), before + 1) << "pin_to_library must hold one more reference to the library";
  h.reset();  // the registry and its entries are gone; the component pins the library
  EXPECT_FALSE(lib.expired());
  // Plugin code still runs (and logs through the HostServices table it kept at registration).
  const auto out = loss.call([](ijepa::sdk::Loss& l) { return l.compute(input_of(at::full({4}, 0.5))); });
  EXPECT_DOUBLE_EQ(out.loss.item<double>(), 0.5);
}

TEST(PluginLoaderGood, ASecondCopyOfTheSamePluginIdIsRefused) {
  ijepa::test::TempDir tmp;
  const fs::path copy = ijepa::test::copy_fixture(fixture_file("good"), tmp / "copy");
  PluginHost h;
  h.load_all(only_dirs({fixture_dir("good"), tmp / "copy"}));
  ASSERT_EQ(h.loaded().size(), 1u);
  const auto* r = rejection_for(h, copy);
  ASSERT_NE(r, nullptr);
  EXPECT_NE(r->reason.find("duplicate plugin id org.ijepa.test.good"), std::string::npos) << r->reason;
}

TEST(PluginLoaderDirs, MissingDirectoryAndFileInsteadOfDirectoryAreRefused) {
  ijepa::test::TempDir tmp;
  const fs::path missing = tmp / "does-not-exist";
  const fs::path file = tmp / "plain-file";
  { std::ofstream(file) << "x"; }
  PluginHost h;
  h.load_all(only_dirs({missing, file, fixture_dir("good")}));
  ASSERT_EQ(h.loaded().size(), 1u);
  const auto* r1 = rejection_for(h, missing);
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->reason, "plugin directory does not exist");
  const auto* r2 = rejection_for(h, file);
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(r2->reason, "not a directory");
}

TEST(PluginLoaderDirs, ABuiltInDirectoryThatIsMissingIsNotAnError) {
  // Directories from the environment are explicit: a missing one is reported.
  PluginHost h;
  ijepa::test::TempDir tmp;
  ::setenv("IJEPA_PLUGIN_PATH", ((tmp / "nope").string() + ":" + fixture_dir("good").string()).c_str(), 1);
  ijepa::host::LoaderOptions o;
  o.use_builtin = false;
  o.use_env = true;
  h.load_all(o);
  ::unsetenv("IJEPA_PLUGIN_PATH");
  EXPECT_EQ(h.loaded().size(), 1u);
  ASSERT_EQ(h.rejected().size(), 1u);
  EXPECT_EQ(h.rejected()[0].reason, "plugin directory does not exist");
}

// ---- bad input: one fixture per case, loaded after the good one --------------------------------------------

struct BadCase {
  std::string name;                    // fixture directory under test_plugins/
  std::string file;                    // plugin file name in it
  std::vector<std::string> expected;   // substrings of the one-line reason
  std::vector<std::string> never_registered;  // loss types that must not be in the registry afterwards
};

// Readable test names in CTest ("... GetParam() = abi_sdk_major").
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

std::string sdk_major_line() {
  return "SDK major version " + std::to_string(IJEPA_SDK_VERSION_MAJOR + 1) + " != host SDK major " +
         std::to_string(IJEPA_SDK_VERSION_MAJOR);
}
std::string sdk_minor_line() {
  return "SDK minor version " + std::to_string(IJEPA_SDK_VERSION_MAJOR) + "." +
         std::to_string(IJEPA_SDK_VERSION_MINOR + 1) + " is newer than the host's " +
         std::to_string(IJEPA_SDK_VERSION_MAJOR) + "." + std::to_string(IJEPA_SDK_VERSION_MINOR);
}
std::string torch_line() {
  const std::string p = std::to_string(TORCH_VERSION_PATCH);
  return "torch version " + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR + 1) +
         "." + p + " != host torch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
         std::to_string(TORCH_VERSION_MINOR) + "." + p;
}

std::vector<BadCase> bad_cases() {
  return {
      {"abi_sdk_major", "ijepa_fixture_abi_sdk_major.so", {"ABI mismatch: ", sdk_major_line()},
       {"fixture_abi_sdk_major"}},
      {"abi_sdk_minor", "ijepa_fixture_abi_sdk_minor.so", {"ABI mismatch: ", sdk_minor_line()},
       {"fixture_abi_sdk_minor"}},
      {"abi_cxx11", "ijepa_fixture_abi_cxx11.so", {"ABI mismatch: ", "_GLIBCXX_USE_CXX11_ABI=0 != host's 1"},
       {"fixture_abi_cxx11"}},
      {"abi_torch", "ijepa_fixture_abi_torch.so", {"ABI mismatch: ", torch_line()}, {"fixture_abi_torch"}},
      {"register_throws", "ijepa_fixture_register_throws.so",
       {"registration failed (org.ijepa.test.register_throws)", "fixture: registration exploded on purpose"},
       {"fixture_throws_partial"}},
      {"duplicate", "ijepa_fixture_duplicate.so",
       {"registration failed (org.ijepa.test.duplicate)", "duplicate loss/fixture_good",
        "already registered by org.ijepa.test.good"},
       {"fixture_duplicate_extra"}},
      {"fake", "ijepa_fake.so", {"not a shared library"}, {}},
      {"noentry", "ijepa_noentry.so", {"missing entry points ijepa_plugin_abi / ijepa_plugin_register"}, {}},
      {"missing_dep", "ijepa_fixture_missing_dep.so",
       {"cannot load: ", "libijepa_fixture_dep.so", "cannot open shared object file"},
       {"fixture_missing_dep"}},
  };
}

class PluginLoaderBadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(PluginLoaderBadInput, IsRefusedWithOneLineAndTheGoodPluginKeepsWorking) {
  const BadCase& c = GetParam();
  const fs::path bad = fixture_dir(c.name) / c.file;
  ASSERT_TRUE(fs::exists(bad)) << bad << " (fixture not built?)";
  PluginHost h;
  h.load_all(only_dirs({fixture_dir("good"), fixture_dir(c.name)}));

  ASSERT_EQ(h.loaded().size(), 1u);
  EXPECT_EQ(h.loaded()[0].plugin_id, kGoodId);
  ASSERT_EQ(h.rejected().size(), 1u);
  const auto& r = h.rejected()[0];
  EXPECT_EQ(r.path, fs::weakly_canonical(bad).string()) << "the rejection names the file";
  EXPECT_EQ(r.reason.find('\n'), std::string::npos) << "one line: " << r.reason;
  for (const auto& s : c.expected) EXPECT_NE(r.reason.find(s), std::string::npos) << "'" << s << "' in: " << r.reason;
  for (const auto& t : c.never_registered) EXPECT_EQ(h.registry().find(Kind::loss, t), nullptr) << t;
  EXPECT_EQ(h.registry().find(Kind::loss, "fixture_good")->origin.plugin_id, kGoodId);
  EXPECT_EQ(h.registry().list().size(), 1u);
  expect_good_loss_works(h);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PluginLoaderBadInput, ::testing::ValuesIn(bad_cases()),
                         [](const ::testing::TestParamInfo<BadCase>& i) { return i.param.name; });

TEST(PluginLoaderBadInput, TheMissingDependencyExistsButIsNotOnTheSearchPath) {
  EXPECT_TRUE(fs::exists(fs::path(IJEPA_TEST_PLUGIN_ROOT) / "_deps" / "libijepa_fixture_dep.so"));
}

TEST(PluginLoaderBadInput, AllBadFixturesTogetherLeaveTheGoodOneLoaded) {
  std::vector<fs::path> dirs{fixture_dir("good")};
  for (const auto& c : bad_cases()) dirs.push_back(fixture_dir(c.name));
  PluginHost h;
  h.load_all(only_dirs(dirs));
  ASSERT_EQ(h.loaded().size(), 1u);
  EXPECT_EQ(h.rejected().size(), bad_cases().size());
  for (const auto& c : bad_cases()) {
    const auto* r = rejection_for(h, fixture_dir(c.name) / c.file);
    ASSERT_NE(r, nullptr) << c.name;
    EXPECT_NE(r->reason.find(c.expected.back()), std::string::npos) << r->reason;
  }
  EXPECT_EQ(h.registry().list().size(), 1u);
  expect_good_loss_works(h);
}

}  // namespace
