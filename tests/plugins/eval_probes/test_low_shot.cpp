// low_shot: the per-class sample (counts, seeding, nesting), metric names, accuracy, the fallback λ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "eval_test_util.hpp"
#include "low_shot.hpp"

namespace ep = ijepa::plugins::eval_probes;
namespace sdk = ijepa::sdk;

namespace {
ep::LowShotOptions low_shot_options(nlohmann::json over = nlohmann::json::object()) {
  nlohmann::json cfg = ep::LowShotOptions::defaults();
  cfg.update(over);
  return ep::LowShotOptions::from_json(cfg);
}

// Class counts 100, 37, 5, 1, 0 in a shuffled order.
at::Tensor uneven_labels() {
  std::vector<std::int64_t> v;
  for (auto [c, n] : std::vector<std::pair<std::int64_t, int>>{{0, 100}, {1, 37}, {2, 5}, {3, 1}})
    v.insert(v.end(), static_cast<std::size_t>(n), c);
  at::Generator g = ep::test::gen(1);
  const at::Tensor y = at::tensor(v, at::kLong);
  return y.index_select(0, at::randperm(y.numel(), g, at::kLong));
}

std::vector<std::int64_t> counts(const at::Tensor& y, std::int64_t C) {
  const at::Tensor b = at::bincount(y, {}, C);
  return std::vector<std::int64_t>(b.data_ptr<std::int64_t>(), b.data_ptr<std::int64_t>() + C);
}
}  // namespace

TEST(LowShot, SamplePerClassTakesMaxOneRoundedFraction) {
  const at::Tensor y = uneven_labels();
  const at::Tensor s10 = ep::sample_per_class(y, 5, 0.1, 4);
  EXPECT_EQ(counts(y.index_select(0, s10), 5), (std::vector<std::int64_t>{10, 4, 1, 1, 0}));  // 3.7 -> 4, 0.5 -> 1
  EXPECT_TRUE(at::equal(s10, std::get<0>(s10.sort())));                                       // ascending
  EXPECT_EQ(std::get<0>(at::_unique(s10)).numel(), s10.numel());                              // no repeats
  const at::Tensor s1 = ep::sample_per_class(y, 5, 0.01, 4);
  EXPECT_EQ(counts(y.index_select(0, s1), 5), (std::vector<std::int64_t>{1, 1, 1, 1, 0}));
  EXPECT_EQ(ep::sample_per_class(y, 5, 1.0, 4).numel(), y.numel());
}

TEST(LowShot, SampleIsSeededAndNested) {
  const at::Tensor y = uneven_labels();
  const at::Tensor a = ep::sample_per_class(y, 5, 0.1, 4);
  EXPECT_TRUE(at::equal(a, ep::sample_per_class(y, 5, 0.1, 4)));
  EXPECT_FALSE(at::equal(a, ep::sample_per_class(y, 5, 0.1, 5)));
  // the 1% sample is part of the 10% one (same per-class permutation)
  const at::Tensor small = ep::sample_per_class(y, 5, 0.01, 4);
  EXPECT_TRUE(at::isin(small, a).all().item<bool>());
}

TEST(LowShot, SuffixIsThePercentageWithUpToTwoDecimals) {
  EXPECT_EQ(ep::fraction_suffix(0.01), "1pct");
  EXPECT_EQ(ep::fraction_suffix(0.1), "10pct");
  EXPECT_EQ(ep::fraction_suffix(0.005), "0.5pct");
  EXPECT_EQ(ep::fraction_suffix(0.0125), "1.25pct");
  EXPECT_EQ(ep::fraction_suffix(0.125), "12.5pct");
  EXPECT_EQ(ep::fraction_suffix(1.0), "100pct");
  EXPECT_EQ(ep::fraction_suffix(0.0001), "0.01pct");
}

TEST(LowShot, SeparableClustersScoreHighWithFewLabels) {
  ep::LowShot probe(low_shot_options());
  const sdk::Metrics m = probe.evaluate(ep::test::separable(10, 32, 200, 30, 31));
  EXPECT_EQ(m.at("n_1pct"), 20.0);
  EXPECT_EQ(m.at("n_10pct"), 200.0);
  EXPECT_GT(m.at("top1_1pct"), 85.0);
  EXPECT_GT(m.at("top1_10pct"), 95.0);
  EXPECT_GT(m.at("top5_1pct"), 95.0);
  EXPECT_EQ(m.at("top5_10pct"), 100.0);
  EXPECT_TRUE(m.count("l2_1pct"));
  EXPECT_TRUE(m.count("converged_1pct") && m.count("converged_10pct"));
  EXPECT_EQ(m.size(), 10u);
}

TEST(LowShot, FallsBackToDefaultPenaltyWhenNothingCanBeHeldOut) {
  ep::LowShot probe(low_shot_options({{"fractions", {0.005}}}));
  const sdk::Metrics m = probe.evaluate(ep::test::separable(3, 8, 20, 10, 32));  // 1 row per class
  EXPECT_EQ(m.at("n_0.5pct"), 3.0);
  EXPECT_EQ(m.at("l2_0.5pct"), ep::kFallbackL2);
  EXPECT_FALSE(m.count("top5_0.5pct"));
  EXPECT_GT(m.at("top1_0.5pct"), 60.0);
}

TEST(LowShot, DrawsAreSeededNestedAndIndependent) {
  const at::Tensor y = uneven_labels();
  const at::Tensor d0 = ep::sample_per_class(y, 5, 0.1, 4);
  EXPECT_TRUE(at::equal(d0, ep::sample_per_class(y, 5, 0.1, 4, 0))) << "draw 0 is the one sample of samples = 1";
  const at::Tensor d1 = ep::sample_per_class(y, 5, 0.1, 4, 1);
  EXPECT_FALSE(at::equal(d0, d1));
  EXPECT_TRUE(at::equal(d1, ep::sample_per_class(y, 5, 0.1, 4, 1)));
  EXPECT_EQ(counts(y.index_select(0, d1), 5), counts(y.index_select(0, d0), 5));
  EXPECT_TRUE(at::isin(ep::sample_per_class(y, 5, 0.01, 4, 1), d1).all().item<bool>());
}

// samples = 3: the accuracies are the means of three probes on three independent samples, sd_top1 their spread, l2
// the median chosen lambda; the first sample's probe is the one samples = 1 runs.
TEST(LowShot, SeveralSamplesAreProbedAndAveraged) {
  at::Generator g = ep::test::gen(40);
  const at::Tensor centres = ep::test::random_centres(6, 12, 1.2, g);  // overlapping clusters: samples matter
  sdk::EvalInput in{ep::test::clusters(centres, 100, 1.0, g), ep::test::clusters(centres, 50, 1.0, g), 6, 9};
  const sdk::Metrics one = ep::LowShot(low_shot_options({{"fractions", {0.05}}})).evaluate(in);
  const sdk::Metrics three = ep::LowShot(low_shot_options({{"fractions", {0.05}}, {"samples", 3}})).evaluate(in);
  EXPECT_FALSE(one.count("sd_top1_5pct"));
  const ep::LinearProbeOptions probe = low_shot_options().probe;
  std::vector<double> top1, l2;
  for (std::int64_t draw = 0; draw < 3; ++draw) {
    const at::Tensor idx = ep::sample_per_class(in.train.labels, 6, 0.05, in.seed, draw);
    const ep::ProbeResult r = ep::run_linear_probe(in.train.features.index_select(0, idx),
                                                   in.train.labels.index_select(0, idx), in.test.features,
                                                   in.test.labels, 6, probe, in.seed);
    top1.push_back(r.top1);
    l2.push_back(r.l2);
  }
  EXPECT_EQ(one.at("top1_5pct"), top1[0]);
  const double mean = (top1[0] + top1[1] + top1[2]) / 3.0;
  EXPECT_NEAR(three.at("top1_5pct"), mean, 1e-9);
  double ss = 0.0;
  for (double x : top1) ss += (x - mean) * (x - mean);
  EXPECT_NEAR(three.at("sd_top1_5pct"), std::sqrt(ss / 2.0), 1e-9);
  EXPECT_GT(three.at("sd_top1_5pct"), 0.0) << "three samples of 5 rows a class do not score alike";
  std::sort(l2.begin(), l2.end());
  EXPECT_EQ(three.at("l2_5pct"), l2[1]);
  EXPECT_EQ(three.at("n_5pct"), 30.0);
  EXPECT_EQ(three.at("converged_5pct"), 1.0);
  EXPECT_EQ(three.at("samples"), 3.0) << "the count the host's interval of the mean needs";
  EXPECT_TRUE(three.count("sd_top5_5pct") && three.at("sd_top5_5pct") >= 0.0);
  EXPECT_FALSE(one.count("sd_top5_5pct"));
  EXPECT_FALSE(one.count("samples")) << "one sample: no spread, nothing to record";
}
