// Run-health diagnostics (host/include/ijepa/host/run/run_health.hpp), each on inputs whose value is known: a
// collapsed batch, position-only features, random features; then the warnings and a training run's metrics.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "host/run/test_util.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/run/run_health.hpp"

namespace fs = std::filesystem;
using namespace ijepa::host;
namespace test = ijepa::test;
namespace sdk = ijepa::sdk;

TEST(RunHealth, RankMeOfKnownSpectra) {
  at::manual_seed(0);
  EXPECT_NEAR(rankme(at::ones({64, 32})), 1.0, 1e-3) << "every row the same direction";
  EXPECT_NEAR(rankme(at::eye(16)), 16.0, 1e-3) << "a flat spectrum";
  const double r = rankme(at::randn({256, 32}));
  EXPECT_GT(r, 28.0);
  EXPECT_LE(r, 32.0);
}

TEST(RunHealth, FeatureStdIsZeroForACollapsedBatch) {
  at::manual_seed(1);
  const at::Tensor one = at::randn({1, 64});
  EXPECT_NEAR(mean_dim_std(one.repeat({32, 1}) * at::rand({32, 1}) + 0.0), 0.0, 1e-6)
      << "rows on one ray: after L2 normalisation, one point";
  const double s = mean_dim_std(at::randn({4096, 64}));
  EXPECT_NEAR(s, 1.0 / std::sqrt(64.0), 0.01) << "random directions";
}

TEST(RunHealth, PositionalShareOfPositionOnlyAndRandomTokens) {
  at::manual_seed(2);
  const at::Tensor pos = at::randn({1, 16, 8}).expand({32, 16, 8});
  EXPECT_NEAR(positional_share(pos), 1.0, 1e-9) << "features that are a function of position only";
  const double random = positional_share(at::randn({32, 16, 8}));
  EXPECT_NEAR(random, 1.0 / 32.0, 0.02) << "random tokens: about 1/B";
  EXPECT_EQ(positional_share(at::zeros({4, 4, 4})), 0.0);
}

TEST(RunHealth, ObserveOnAConstructedStep) {
  at::manual_seed(3);
  const std::int64_t B = 8, N = 16, D = 12, K = 4;
  sdk::StepView v;
  v.step = 5;
  v.target_tokens = at::randn({1, 1, D}).expand({B, N, D}).contiguous();  // every image and token the same
  const std::vector<at::Tensor> mctx{at::arange(8).repeat({B, 1})}, mtgt{at::arange(8, 8 + K).repeat({B, 1})};
  v.masks_ctx = &mctx;
  v.masks_tgt = &mtgt;
  // The predictor outputs exactly the loss's target: cosine 1.
  const at::Tensor h = at::layer_norm(v.target_tokens, {D}, {}, {}, 1e-5);
  v.prediction = h.narrow(1, 8, K);
  at::Tensor w = at::ones({3, 4}).set_requires_grad(true);
  w.mutable_grad() = at::full({3, 4}, 0.5);
  v.groups = {{"encoder", {w}}};
  const std::vector<at::Tensor> ctx{at::full({10}, 2.0)}, tgt{at::full({10}, 1.0)};
  v.context_params = &ctx;
  v.target_params = &tgt;
  const sdk::Metrics m = RunHealth().observe(v);
  EXPECT_NEAR(m.at("health.rank_target"), 1.0, 1e-3);
  EXPECT_NEAR(m.at("health.std_target"), 0.0, 1e-6);
  EXPECT_NEAR(m.at("health.pred_cos"), 1.0, 1e-5);
  EXPECT_NEAR(m.at("health.grad_norm.encoder"), std::sqrt(12 * 0.25), 1e-5);
  EXPECT_NEAR(m.at("health.ema_distance"), 1.0, 1e-6);  // ||2 - 1|| / ||1||
  EXPECT_TRUE(m.count("health.positional_share"));
  EXPECT_TRUE(m.count("health.rank_pred"));
}

TEST(HealthWatch, WarnsOncePerKindWhenAThresholdIsCrossed) {
  HealthWatch w;
  EXPECT_TRUE(w.check(10, {{"health.positional_share", 0.5}, {"health.rank_target", 20.0}}).empty());
  const auto a = w.check(20, {{"health.positional_share", 0.95}, {"health.rank_target", 4.0}});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NE(a[0].find("positional share 0.95 > 0.9"), std::string::npos) << a[0];
  EXPECT_NE(a[1].find("dimensional collapse"), std::string::npos) << a[1];
  EXPECT_TRUE(w.check(30, {{"health.positional_share", 0.97}, {"health.rank_target", 3.0}}).empty()) << "once";
}

// A tiny model's features can start below an effective rank of 2: that is no collapse (every tiny run warned at its
// first log); falling through 2 from above is.
TEST(HealthWatch, TheRankFloorCountsOnlyForARankThatStartedAboveIt) {
  HealthWatch low;
  EXPECT_TRUE(low.check(1, {{"health.rank_target", 1.94}}).empty());
  EXPECT_TRUE(low.check(2, {{"health.rank_target", 1.9}}).empty());
  EXPECT_EQ(low.check(3, {{"health.rank_target", 0.4}}).size(), 1u) << "below a quarter of its first value";
  HealthWatch high;
  EXPECT_TRUE(high.check(1, {{"health.rank_target", 3.0}}).empty());
  EXPECT_EQ(high.check(2, {{"health.rank_target", 1.9}}).size(), 1u);
}

// "First logged" and "once" are the run's across --resume: the kept metrics.jsonl is replayed before the session goes
// on (a run resumed 7 times had 8 copies of one warning, each judged against its session's first value), and the
// summary's first loss is the run's.
TEST(RunHealth, AResumedRunJudgesAgainstTheRunsFirstValuesAndWarnsOnce) {
  auto dir = test::temp_dir("health_resume");
  nlohmann::json exp = test::tiny_experiment();
  exp["train"]["log_every"] = 1;
  test::write_text(dir / "e.json", exp.dump());
  const std::string train = "train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet";
  std::string out;
  ASSERT_EQ(test::run_cli(train + " --set train.max_steps=3", &out), 0) << out;
  // The run's first record as if its features had started far higher, and its loss with them; the rest dropped.
  std::ifstream in(dir / "r" / "metrics.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  nlohmann::json first = nlohmann::json::parse(line);
  first["health.rank_target"] = 1000.0;
  first["loss_avg"] = 123.0;
  test::write_text(dir / "r" / "metrics.jsonl", first.dump() + "\n");
  auto warnings = [&] {  // the rank warnings (a tiny run's positional share may cross its threshold too)
    const auto st = nlohmann::json::parse(test::read_text(dir / "r" / "status.json"));
    nlohmann::json rank = nlohmann::json::array();
    for (const auto& w : st.value("health_warnings", nlohmann::json::array())) {
      if (w.get<std::string>().find("effective rank") != std::string::npos) rank.push_back(w);
    }
    return rank;
  };
  ASSERT_TRUE(warnings().empty()) << warnings().dump();
  ASSERT_EQ(test::run_cli(train + " --set train.max_steps=5 --resume", &out), 0) << out;
  ASSERT_EQ(warnings().size(), 1u) << warnings().dump();
  EXPECT_NE(warnings()[0].get<std::string>().find("(first logged 1e+03): a dimensional collapse"), std::string::npos)
      << warnings().dump();
  EXPECT_NE(out.find("123 (first 1 step) -> "), std::string::npos) << out;
  // Resumed again: the warning was the run's, once.
  ASSERT_EQ(test::run_cli(train + " --set train.max_steps=7 --resume", &out), 0) << out;
  EXPECT_EQ(warnings().size(), 1u) << warnings().dump();
  fs::remove_all(dir);
}

TEST(RunHealth, ATrainingRunLogsTheMetrics) {
  auto dir = test::temp_dir("health");
  test::write_text(dir / "e.json", test::tiny_experiment().dump());
  std::string out;
  ASSERT_EQ(test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet", &out), 0)
      << out;
  std::ifstream in(dir / "r" / "metrics.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const nlohmann::json rec = nlohmann::json::parse(line);
  for (const char* k : {"health.rank_target", "health.rank_pred", "health.std_target", "health.positional_share",
                        "health.pred_cos", "health.grad_norm.encoder", "health.grad_norm.predictor",
                        "health.ema_distance"}) {
    ASSERT_TRUE(rec.contains(k)) << k << " in " << line;
    EXPECT_TRUE(std::isfinite(rec[k].get<double>())) << k;
  }
  EXPECT_GE(rec["health.rank_target"].get<double>(), 1.0);
  // train.health false: no diagnostics.
  ASSERT_EQ(test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "off").string() +
                              " --quiet --set train.health=false", &out), 0) << out;
  std::ifstream off(dir / "off" / "metrics.jsonl");
  ASSERT_TRUE(std::getline(off, line));
  EXPECT_EQ(line.find("health."), std::string::npos) << line;
  fs::remove_all(dir);
}
