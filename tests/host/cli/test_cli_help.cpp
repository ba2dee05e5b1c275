// Every command answers -h / --help with its whole usage (exit 0); an unknown option or command is one line that
// suggests the nearest valid one (issue #20, item 1).
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "host/run/test_util.hpp"

namespace {

using Out = ijepa::test::CliOut;
Out run(const std::string& args) { return ijepa::test::cli(args); }

}  // namespace

TEST(CliHelp, EveryCommandAnswersHelpWithItsOptionsDefaultsAndAnExample) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"train", {"--set KEY=VALUE", "--out DIR", "--resume", "--nproc N", "(default: 25)"}},
      {"sweep", {"--jobs N", "--dry-run", "--restart-failed", "--reuse DIR"}},
      {"report", {"SWEEP_DIR"}},
      {"eval", {"--evaluator TYPE", "--encoder target|context", "(default: target)"}},
      {"embed", {"--checkpoint", "--pooled | --last4 | --tokens"}},
      {"masks", {"--masker TYPE", "--patch-size P"}},
      {"plugins", {"--json", "--plugin-dir DIR"}},
      {"describe", {"KIND/TYPE"}},
      {"bench train", {"--model M", "--sdpa fused|torch", "(default: fused)"}},
      {"bench data", {"--source S", "--baseline torchvision"}},
  };
  for (const auto& [cmd, want] : commands) {
    for (const char* flag : {"--help", "-h"}) {
      const Out o = run(cmd + " " + flag);
      EXPECT_EQ(o.rc, 0) << cmd << " " << flag << ": " << o.text;
      EXPECT_NE(o.text.find("usage: ijepa " + cmd), std::string::npos) << o.text;
      EXPECT_NE(o.text.find("examples:"), std::string::npos) << o.text;
      for (const auto& w : want) EXPECT_NE(o.text.find(w), std::string::npos) << cmd << ": " << w << "\n" << o.text;
    }
  }
  const Out h = run("help train");
  EXPECT_EQ(h.rc, 0);
  EXPECT_NE(h.text.find("usage: ijepa train CONFIG.json"), std::string::npos) << h.text;
  // `bench` alone has two subcommands: `bench --help` shows both, as `help bench` does (it was a usage error).
  for (const char* cmd : {"bench --help", "bench -h", "help bench"}) {
    const Out b = run(cmd);
    EXPECT_EQ(b.rc, 0) << cmd << ": " << b.text;
    EXPECT_NE(b.text.find("usage: ijepa bench train"), std::string::npos) << cmd << ": " << b.text;
    EXPECT_NE(b.text.find("usage: ijepa bench data"), std::string::npos) << cmd << ": " << b.text;
  }
}

TEST(CliHelp, EveryExperimentFileAnExampleNamesExists) {
  // An example that names a file the tree does not have fails at its first step (the sweep example once named
  // experiments/ablations/masking_cpu.json, renamed t6_masking_cpu.json).
  const std::filesystem::path root = std::filesystem::path(IJEPA_TEST_SOURCE_DIR).parent_path();
  const std::regex file(R"(experiments/[A-Za-z0-9_./-]+\.json)");
  int named = 0;
  for (const char* cmd : {"train", "sweep", "report", "eval", "embed", "export", "masks", "plugins", "describe",
                          "bench train", "bench data"}) {
    const Out o = run(std::string(cmd) + " --help");
    ASSERT_EQ(o.rc, 0) << cmd << ": " << o.text;
    for (std::sregex_iterator it(o.text.begin(), o.text.end(), file), end; it != end; ++it, ++named) {
      EXPECT_TRUE(std::filesystem::is_regular_file(root / it->str())) << "ijepa " << cmd << " --help: " << it->str();
    }
  }
  EXPECT_GE(named, 3) << "the examples name experiment files";
}

TEST(CliHelp, AnUnknownOptionSuggestsTheNearestOne) {
  const Out o = run("train x.json --ouT runs/x");
  EXPECT_NE(o.rc, 0);
  EXPECT_NE(o.text.find("ijepa train: unknown option --ouT (did you mean --out?); see --help"), std::string::npos)
      << o.text;
  EXPECT_EQ(ijepa::test::count_lines(o.text), 1u) << o.text;
  const Out far = run("train x.json --completely-different");
  EXPECT_NE(far.text.find("unknown option --completely-different; see --help"), std::string::npos) << far.text;
  const Out cmd = run("trian x.json");
  EXPECT_NE(cmd.text.find("unknown command 'trian' (did you mean train?)"), std::string::npos) << cmd.text;
}

// tools/ijepa-completion.bash: commands and options come from the binary's help, values for a few options.
TEST(CliHelp, BashCompletionOffersCommandsOptionsAndValues) {
  auto complete = [](const std::string& words) {
    // COMP_WORDS from `words` (the last one is the word being completed; may be empty).
    const std::string script = std::string("source '") + IJEPA_TEST_SOURCE_DIR + "/../tools/ijepa-completion.bash'; " +
                               "COMP_WORDS=(" + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ijepa; " +
                               "printf '%s\\n' \"${COMPREPLY[@]}\"";
    std::string out;
    const std::string file = (ijepa::test::temp_dir("completion") / "complete.sh").string();
    ijepa::test::write_text(file, script + "\n");
    ijepa::test::run_shell("bash '" + file + "'", &out);
    return out;
  };
  const std::string cli = IJEPA_CLI;
  EXPECT_EQ(complete(cli + " ex"), "export\n");
  const std::string cmds = complete(cli + " ''");
  for (const char* c : {"train\n", "sweep\n", "report\n", "eval\n", "embed\n", "bench\n", "help\n"}) {
    EXPECT_NE(cmds.find(c), std::string::npos) << c << cmds;
  }
  EXPECT_EQ(complete(cli + " export --fo"), "--format\n");
  EXPECT_EQ(complete(cli + " export --format ''"), "timm\nhf\n");
  const std::string embed = complete(cli + " embed --");
  for (const char* o : {"--pooled\n", "--last4\n", "--tokens\n", "--checkpoint\n", "--help\n"}) {
    EXPECT_NE(embed.find(o), std::string::npos) << o << embed;
  }
  EXPECT_EQ(embed.find("--help\n"), embed.rfind("--help\n")) << "offered once: " << embed;
  EXPECT_EQ(complete(cli + " eval --he"), "--help\n");
  EXPECT_EQ(complete(cli + " bench t"), "train\n");
  EXPECT_NE(complete(cli + " bench train --ba").find("--baseline\n"), std::string::npos);
  EXPECT_EQ(complete(cli + " report x --best"), "--best-by\n");
}
