// low_shot: the per-class sample (counts, seeding, nesting), metric names, accuracy, the fallback λ.
#include <gtest/gtest.h>

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
