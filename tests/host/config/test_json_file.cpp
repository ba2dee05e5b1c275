// host/src/config/json_file.cpp: JSON files with FILE:LINE:COL errors, dotted overrides, atomic writes.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/io/files.hpp"
#include "host/hosting/fixture_plugins.hpp"

namespace {

namespace fs = std::filesystem;
using ijepa::host::ConfigFileError;
using nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigFileError& e) {
    return e.what();
  }
  return "";
}

TEST(JsonFile, LoadsAFile) {
  ijepa::test::TempDir tmp;
  const fs::path p = tmp / "a.json";
  std::ofstream(p) << R"({"a": {"b": [1, 2]}, "c": "x"})";
  EXPECT_EQ(ijepa::host::load_json_file(p), json::parse(R"({"a": {"b": [1, 2]}, "c": "x"})"));
}

TEST(JsonFile, MalformedJsonNamesFileLineAndColumn) {
  ijepa::test::TempDir tmp;
  const fs::path p = tmp / "bad.json";
  std::ofstream(p) << "{\n  \"a\": 1,\n  \"b\": ]\n}\n";
  const std::string w = error_of([&] { ijepa::host::load_json_file(p); });
  EXPECT_EQ(w.rfind(p.string() + ":3:8: malformed JSON: syntax error", 0), 0u) << w;
}

TEST(JsonFile, MissingFileAndDirectory) {
  ijepa::test::TempDir tmp;
  EXPECT_EQ(error_of([&] { ijepa::host::load_json_file(tmp / "none.json"); }),
            (tmp / "none.json").string() + ": file not found");
  EXPECT_EQ(error_of([&] { ijepa::host::load_json_file(tmp.path()); }),
            tmp.path().string() + ": is a directory, expected a JSON file");
}

TEST(JsonFile, ParseTextNamesItsOrigin) {
  const std::string w = error_of([] { ijepa::host::parse_json_text("[1, 2", "--set"); });
  EXPECT_EQ(w.rfind("--set:1:6: malformed JSON", 0), 0u) << w;
}

TEST(JsonFile, DottedPathsBecomePointers) {
  EXPECT_EQ(ijepa::host::dotted_to_pointer("a.b.0.c").to_string(), "/a/b/0/c");
  EXPECT_EQ(ijepa::host::dotted_to_pointer("x/y.z~w").to_string(), "/x~1y/z~0w");
  EXPECT_THROW(ijepa::host::dotted_to_pointer("a..b"), std::invalid_argument);
}

TEST(JsonFile, OverridesParseJsonOrFallBackToStrings) {
  json cfg = {{"opt", {{"lr", 0.1}, {"name", "adamw"}}}, {"sizes", {1, 2}}};
  ijepa::host::apply_override(cfg, "opt.lr=0.5", "cli");
  ijepa::host::apply_override(cfg, "opt.name=sgd", "cli");
  ijepa::host::apply_override(cfg, "sizes.1=7", "cli");
  ijepa::host::apply_override(cfg, "+opt.flags=[true, \"x\"]", "cli");
  EXPECT_EQ(cfg, json::parse(R"({"opt": {"lr": 0.5, "name": "sgd", "flags": [true, "x"]}, "sizes": [1, 7]})"));
}

TEST(JsonFile, OverridesOfMissingKeysNeedAPlus) {
  json cfg = {{"opt", {{"lr", 0.1}}}};
  EXPECT_EQ(error_of([&] { ijepa::host::apply_override(cfg, "opt.lrr=0.5", "cli"); }),
            "cli (opt.lrr=0.5): key 'opt.lrr' does not exist in the config (did you mean 'opt.lr'? a key it does not "
            "have yet: '+opt.lrr=...')");
  // The first level that does not exist is the one mistyped; without a near key, the keys that are there.
  EXPECT_EQ(error_of([&] { ijepa::host::apply_override(cfg, "otp.lr=0.5", "cli"); }),
            "cli (otp.lr=0.5): key 'otp.lr' does not exist in the config (did you mean 'opt.lr'? a key it does not "
            "have yet: '+otp.lr=...')");
  EXPECT_EQ(error_of([&] { ijepa::host::apply_override(cfg, "opt.momentum=0.5", "cli"); }),
            "cli (opt.momentum=0.5): key 'opt.momentum' does not exist in the config; 'opt' has: lr (a key it does "
            "not have yet: '+opt.momentum=...')");
  EXPECT_EQ(error_of([&] { ijepa::host::apply_override(cfg, "opt.lr.=0.5", "cli"); }),
            "cli (opt.lr.=0.5): empty segment in path 'opt.lr.'");
  EXPECT_EQ(error_of([&] { ijepa::host::apply_override(cfg, "opt.lr", "cli"); }),
            "cli: expected key=value, got 'opt.lr'");
  EXPECT_EQ(error_of([&] { ijepa::host::apply_override(cfg, "=1", "cli"); }), "cli: expected key=value, got '=1'");
  EXPECT_EQ(cfg, json({{"opt", {{"lr", 0.1}}}}));
}

TEST(JsonFile, WriteFileAtomicReplacesTheFileAndLeavesNoTemporaries) {
  ijepa::test::TempDir tmp;
  const fs::path p = tmp / "out.json";
  ijepa::host::write_file_atomic(p, "first");
  ijepa::host::write_file_atomic(p, "second\n");
  EXPECT_EQ(ijepa::test::read_text(p), "second\n");
  int n = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    (void)e;
    ++n;
  }
  EXPECT_EQ(n, 1);
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0022, 0u) << "never group/other-writable";
  EXPECT_THROW(ijepa::host::write_file_atomic(tmp / "no-such-dir" / "x.json", "x"), std::runtime_error);
}

// Two evaluations of one step finishing together each claim a default name: write_file_new takes a name in one step,
// so eight processes racing down the same list of names end with eight files, each holding its own writer's text.
TEST(JsonFile, WriteFileNewGivesRacingProcessesDistinctNames) {
  ijepa::test::TempDir tmp;
  ijepa::host::write_file_atomic(tmp / "r.json", "taken");
  EXPECT_FALSE(ijepa::host::write_file_new(tmp / "r.json", "x"));
  EXPECT_EQ(ijepa::test::read_text(tmp / "r.json"), "taken");
  fs::create_directory(tmp / "d.json");
  EXPECT_FALSE(ijepa::host::write_file_new(tmp / "d.json", "x")) << "a folder of that name is taken too";
  constexpr int kProcs = 8;
  std::vector<pid_t> kids;
  for (int k = 0; k < kProcs; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 1;
      try {
        for (int i = 2; i < 2 + 2 * kProcs; ++i) {
          if (ijepa::host::write_file_new(tmp / ("r-" + std::to_string(i) + ".json"), "writer " + std::to_string(k))) {
            code = 0;
            break;
          }
        }
      } catch (...) {
        code = 2;
      }
      ::_exit(code);
    }
    kids.push_back(pid);
  }
  for (const pid_t pid : kids) {
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  std::set<std::string> writers;
  int files = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    const std::string f = e.path().filename().string();
    EXPECT_EQ(f.find(".tmp."), std::string::npos) << "temporary left: " << f;
    if (f.rfind("r-", 0) != 0) continue;
    ++files;
    writers.insert(ijepa::test::read_text(e.path()));
  }
  EXPECT_EQ(files, kProcs);
  EXPECT_EQ(writers.size(), static_cast<std::size_t>(kProcs)) << "each name holds one writer's text, none twice";
  EXPECT_THROW((void)ijepa::host::write_file_new(tmp / "no-such-dir" / "x.json", "x"), std::runtime_error);
}

}  // namespace

// Hostile-input issue, items 4 and 15: nesting is bounded before it costs stack, a key twice is named, a number out
// of range names the file; every message is one short line.
TEST(JsonFile, DeepNestingIsRefusedInOneShortLine) {
  for (const int depth : {257, 100000}) {
    const std::string text = std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
    const std::string err = error_of([&] { (void)ijepa::host::parse_json_text(text, "deep.json"); });
    EXPECT_EQ(err.rfind("deep.json: malformed JSON: nested deeper than 256 levels", 0), 0u) << err.substr(0, 200);
    EXPECT_LT(err.size(), 200u);
  }
  std::string ok = std::string(200, '[') + std::string(200, ']');
  EXPECT_NO_THROW((void)ijepa::host::parse_json_text(ok, "ok.json"));
  std::string objects;
  for (int i = 0; i < 300; ++i) objects += "{\"a\":";
  objects += "1" + std::string(300, '}');
  EXPECT_NE(error_of([&] { (void)ijepa::host::parse_json_text(objects, "o.json"); }).find("nested deeper"),
            std::string::npos);
}

TEST(JsonFile, ADuplicateKeyIsNamedWithItsPath) {
  const std::string err = error_of(
      [] { (void)ijepa::host::parse_json_text(R"({"train": {"lr": 1, "epochs": 2, "lr": 3}})", "dup.json"); });
  EXPECT_EQ(err, "dup.json: malformed JSON: duplicate key 'train.lr'");
  EXPECT_NO_THROW((void)ijepa::host::parse_json_text(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]})", "ok"));
}

TEST(JsonFile, ANumberOutOfRangeNamesTheFile) {
  const std::string err = error_of([] { (void)ijepa::host::parse_json_text(R"({"train": {"lr": 1e999}})", "big.json"); });
  EXPECT_EQ(err.rfind("big.json: malformed JSON: ", 0), 0u) << err;
  EXPECT_EQ(err.find("json.exception"), std::string::npos) << err;
}
