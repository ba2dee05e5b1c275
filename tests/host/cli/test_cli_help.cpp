// Every command answers -h / --help with its whole usage (exit 0); an unknown option or command is one line that
// suggests the nearest valid one (issue #20, item 1).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "host/run/test_util.hpp"

namespace {

struct Out {
  int rc;
  std::string text;
};

Out run(const std::string& args) {
  Out o;
  o.rc = ijepa::test::run_cli(args, &o.text);
  return o;
}

}  // namespace

TEST(CliHelp, EveryCommandAnswersHelpWithItsOptionsDefaultsAndAnExample) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"train", {"--set KEY=VALUE", "--out DIR", "--resume", "--nproc N", "(default: 25)"}},
      {"sweep", {"--jobs N", "--dry-run", "--restart-failed"}},
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
