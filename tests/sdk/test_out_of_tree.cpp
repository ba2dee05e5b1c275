// The installed SDK works out of tree: `cmake --install` the project into a prefix inside the build tree,
// build a copy of plugins/template with CMakeLists.standalone.txt against it as a separate CMake project, and
// check that `ijepa plugins --plugin-dir <that build>` loads it; then configure it against the build tree's package
// (-Dijepa_sdk_DIR=<build>/sdk, no install). The copy's plugin id and type are renamed
// (org.example.cosine_oot, loss/cosine_oot) so it does not collide with the built-in template.
// Slow (configures and compiles a CMake project): CTest label "slow".
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "host/hosting/fixture_plugins.hpp"

namespace {

namespace fs = std::filesystem;
using ijepa::test::CommandResult;
using ijepa::test::run_command;
using ijepa::test::run_ijepa;
using ijepa::test::shell_quote;
using nlohmann::json;

std::string show(const CommandResult& r) {
  return "exit " + std::to_string(r.rc) + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err;
}

// Replaces every occurrence of `from` in `s`; returns how many there were.
int replace_all(std::string& s, const std::string& from, const std::string& to) {
  int n = 0;
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()), ++n) s.replace(p, from.size(), to);
  return n;
}

TEST(SdkOutOfTree, InstalledSdkBuildsTheTemplateAndTheHostLoadsIt) {
  ::umask(022);  // the loader refuses group/other-writable plugin files and directories
  const fs::path work = IJEPA_TEST_OOT_DIR;
  const fs::path prefix = work / "prefix", src = work / "src", build = work / "build";
  // (`rm -rf`, not std::filesystem::remove_all: see fixture_plugins.hpp)
  ASSERT_EQ(run_command("rm -rf " + shell_quote(work.string())).rc, 0);
  fs::create_directories(src);

  // 1. Install the project (SDK headers, CMake package ijepa_sdk, ...) into the prefix.
  auto r = run_command(shell_quote(IJEPA_CMAKE_COMMAND) + " --install " + shell_quote(IJEPA_MAIN_BUILD_DIR) +
                       " --prefix " + shell_quote(prefix.string()));
  ASSERT_EQ(r.rc, 0) << show(r);
  const fs::path pkg = prefix / IJEPA_INSTALL_LIBDIR / "cmake" / "ijepa_sdk";
  for (const fs::path& p : {prefix / "include" / "ijepa" / "sdk" / "plugin.hpp", pkg / "ijepa_sdkConfig.cmake",
                            pkg / "ijepa_sdkConfigVersion.cmake", pkg / "ijepa_sdkTargets.cmake",
                            pkg / "IjepaPlugin.cmake", pkg / "plugin.map"}) {
    EXPECT_TRUE(fs::exists(p)) << p << " not installed";
  }

  // 2. A copy of the template as its own project, renamed.
  const fs::path tpl = fs::path(IJEPA_SOURCE_ROOT) / "plugins" / "template";
  for (const char* f : {"cosine_loss.cpp", "cosine_loss.hpp", "plugin_entry.cpp"}) fs::copy_file(tpl / f, src / f);
  fs::copy_file(tpl / "CMakeLists.standalone.txt", src / "CMakeLists.txt");
  std::string entry = ijepa::test::read_text(src / "plugin_entry.cpp");
  ASSERT_EQ(replace_all(entry, "\"org.ijepa.template.cosine\"", "\"org.example.cosine_oot\""), 1) << entry;
  ASSERT_EQ(replace_all(entry, "e.type = \"cosine\";", "e.type = \"cosine_oot\";"), 1) << entry;
  std::ofstream(src / "plugin_entry.cpp", std::ios::trunc) << entry;

  // 3. Configure and build it against the installed SDK (and the same torch and compiler).
  std::string configure = shell_quote(IJEPA_CMAKE_COMMAND) + " -S " + shell_quote(src.string()) + " -B " +
                          shell_quote(build.string()) + " -G " + shell_quote(IJEPA_CMAKE_GENERATOR) +
                          " -DCMAKE_MAKE_PROGRAM=" + shell_quote(IJEPA_CMAKE_MAKE_PROGRAM) +
                          " -DCMAKE_CXX_COMPILER=" + shell_quote(IJEPA_CXX_COMPILER) +
                          " -DCMAKE_BUILD_TYPE=RelWithDebInfo" +
                          " -DCMAKE_PREFIX_PATH=" + shell_quote(prefix.string()) +
                          " -DTorch_DIR=" + shell_quote(IJEPA_TORCH_DIR);
  if (std::string(IJEPA_CUDA_ROOT).size() > 0) configure += " -DCUDAToolkit_ROOT=" + shell_quote(IJEPA_CUDA_ROOT);
  r = run_command(configure);
  ASSERT_EQ(r.rc, 0) << configure << "\n" << show(r);
  r = run_command(shell_quote(IJEPA_CMAKE_COMMAND) + " --build " + shell_quote(build.string()));
  ASSERT_EQ(r.rc, 0) << show(r);
  const fs::path plugin = build / "ijepa_template_cosine.so";
  ASSERT_TRUE(fs::exists(plugin)) << plugin;

  // 4. The host (build tree binary) loads it next to the built-in template.
  r = run_ijepa({"plugins", "--json", "--plugin-dir", build.string()});
  ASSERT_EQ(r.rc, 0) << show(r);
  const json j = json::parse(r.out);
  bool oot = false, builtin = false;
  for (const auto& c : j["components"]) {
    if (c["kind"] != "loss") continue;
    if (c["type"] == "cosine_oot") {
      oot = true;
      EXPECT_EQ(c["plugin_id"], "org.example.cosine_oot");
      EXPECT_EQ(c["path"], fs::weakly_canonical(plugin).string());
    }
    if (c["type"] == "cosine") builtin = c["plugin_id"] == "org.ijepa.template.cosine";
  }
  EXPECT_TRUE(oot) << r.out;
  EXPECT_TRUE(builtin) << r.out;
  for (const auto& x : j["rejected"]) {
    EXPECT_EQ(x["path"].get<std::string>().find(build.string()), std::string::npos) << x;
  }
  r = run_ijepa({"describe", "loss/cosine_oot", "--plugin-dir", build.string()});
  ASSERT_EQ(r.rc, 0) << show(r);
  EXPECT_EQ(json::parse(r.out)["defaults"]["eps"], 1e-8);

  // 5. The build tree is a package as well (no install): the same project configures against <build>/sdk, with the
  // build tree's plugin directory, and defaults to an optimised build.
  const fs::path build2 = work / "build_against_tree";
  std::string configure2 = configure;
  ASSERT_EQ(replace_all(configure2, " -DCMAKE_BUILD_TYPE=RelWithDebInfo", ""), 1);
  ASSERT_EQ(replace_all(configure2, " -DCMAKE_PREFIX_PATH=" + shell_quote(prefix.string()),
                        " -Dijepa_sdk_DIR=" + shell_quote((fs::path(IJEPA_MAIN_BUILD_DIR) / "sdk").string())),
            1);
  ASSERT_EQ(replace_all(configure2, " -B " + shell_quote(build.string()), " -B " + shell_quote(build2.string())), 1);
  std::ofstream(src / "CMakeLists.txt", std::ios::app)
      << "message(STATUS \"plugin dir: ${IJEPA_HOST_PLUGIN_DIR}\")\n";
  r = run_command(configure2);
  ASSERT_EQ(r.rc, 0) << configure2 << "\n" << show(r);
  EXPECT_NE(r.out.find("plugin dir: " + (fs::path(IJEPA_MAIN_BUILD_DIR) / "lib" / "ijepa" / "plugins").string()),
            std::string::npos) << show(r);
  const std::string cache = ijepa::test::read_text(build2 / "CMakeCache.txt");
  EXPECT_NE(cache.find("CMAKE_BUILD_TYPE:STRING=RelWithDebInfo"), std::string::npos);

  run_command("rm -rf " + shell_quote(work.string()));
}

}  // namespace
