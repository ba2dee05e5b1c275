// The host's layers point only down (docs/architecture-notes.md, "Host layers"): every "ijepa/host/<layer>/..."
// include of a file in host/src/<layer>/ or host/include/ijepa/host/<layer>/ names its own layer or a lower one, and
// the viewer reaches the host only through its public headers. Reads the source tree; fails naming file and line.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace {

// Lower number = lower layer. Layers of one level may not include each other.
const std::map<std::string, int> kLevel = {
    {"log", 0},  {"util", 0},                    // logging facade, error types, CUDA facts
    {"io", 1},   {"proc", 1},                    // files, safetensors, checkpoints; signals, locks, children
    {"hosting", 2},                              // plugin loading, ABI check, registry, BuildContext factory
    {"data", 3},                                 // datasets, transforms, loader
    {"config", 4},                               // experiment files, resolution, sweeps, config->loader mapping
    {"eval", 5}, {"dist", 5},                    // frozen-feature evaluation; c10d process groups, launcher
    {"run", 6},                                  // model, trainer stages, run and sweep directories
    {"bench", 7},                                // benchmarks (their own library)
};

fs::path source_root() { return fs::path(IJEPA_TEST_SOURCE_DIR).parent_path(); }

struct Include {
  std::string layer;
  int line;
};

std::vector<Include> host_includes(const fs::path& file) {
  static const std::regex re(R"re(^\s*#\s*include\s*"ijepa/host/([a-z_]+)/)re");
  std::vector<Include> out;
  std::ifstream in(file);
  std::string text;
  int n = 0;
  while (std::getline(in, text)) {
    ++n;
    std::smatch m;
    if (std::regex_search(text, m, re)) out.push_back({m[1].str(), n});
  }
  return out;
}

std::vector<fs::path> sources_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".cpp" || ext == ".hpp" || ext == ".h" || ext == ".in")) out.push_back(e.path());
  }
  return out;
}

}  // namespace

TEST(HostLayering, EveryLayerFolderIsKnown) {
  for (const fs::path& base : {source_root() / "host" / "src", source_root() / "host" / "include" / "ijepa" / "host"}) {
    for (const auto& e : fs::directory_iterator(base)) {
      if (!e.is_directory()) continue;
      const std::string name = e.path().filename().string();
      if (name == "cli") continue;  // the executable: the top, may include every layer
      EXPECT_TRUE(kLevel.count(name)) << e.path() << ": a host folder missing from the layer table";
    }
  }
}

TEST(HostLayering, IncludesOnlyPointDown) {
  int checked = 0;
  for (const auto& [layer, level] : kLevel) {
    for (const fs::path& dir : {source_root() / "host" / "src" / layer,
                                source_root() / "host" / "include" / "ijepa" / "host" / layer}) {
      for (const fs::path& f : sources_under(dir)) {
        for (const Include& inc : host_includes(f)) {
          ++checked;
          const auto it = kLevel.find(inc.layer);
          ASSERT_NE(it, kLevel.end()) << f.string() << ":" << inc.line << ": unknown layer '" << inc.layer << "'";
          EXPECT_TRUE(inc.layer == layer || it->second < level)
              << f.string() << ":" << inc.line << ": layer '" << layer << "' includes '" << inc.layer
              << "', which is not below it";
        }
      }
    }
  }
  EXPECT_GT(checked, 50) << "the scan found almost no includes: is IJEPA_TEST_SOURCE_DIR right?";
}

TEST(HostLayering, TheViewerSeesOnlyPublicHostHeaders) {
  static const std::regex bare(R"re(^\s*#\s*include\s*"(cli|bench|config|data|dist|eval|io|log|run|util|proc|hosting|plugins)/)re");
  for (const fs::path& f : sources_under(source_root() / "gui")) {
    std::ifstream in(f);
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      EXPECT_FALSE(std::regex_search(text, bare)) << f.string() << ":" << n << ": a host internal by its bare folder name";
    }
  }
}
