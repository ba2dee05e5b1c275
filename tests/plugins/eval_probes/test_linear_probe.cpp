// linear_probe: accuracy on separable clusters, chance on shuffled labels, the choice of λ, batchnorm invariance.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "eval_test_util.hpp"
#include "linear_probe.hpp"

namespace ep = ijepa::plugins::eval_probes;
namespace sdk = ijepa::sdk;
using ep::test::separable;

namespace {
ep::LinearProbeOptions options(nlohmann::json over = nlohmann::json::object()) {
  nlohmann::json cfg = ep::LinearProbeOptions::defaults();
  cfg.update(over);
  return ep::LinearProbeOptions::from_json(cfg);
}
}  // namespace

TEST(LinearProbe, SeparableClustersScoreHigh) {
  ep::LinearProbe probe(options());
  const sdk::Metrics m = probe.evaluate(separable(10, 32, 50, 30, 1));
  EXPECT_GT(m.at("top1"), 95.0);
  EXPECT_EQ(m.at("top5"), 100.0);
  EXPECT_GT(m.at("holdout_top1"), 95.0);
  EXPECT_EQ(m.at("train_n"), 500.0);
  EXPECT_EQ(m.at("test_n"), 300.0);
  EXPECT_TRUE(m.count("l2"));
  EXPECT_TRUE(m.count("fit_iters") && m.count("converged") && m.count("fit_grad") && m.count("path_capped"));
  EXPECT_GT(m.at("holdout_nll"), 0.0);
  EXPECT_LT(m.at("holdout_nll"), 0.2) << "confident and right on separable clusters";
  EXPECT_EQ(m.size(), 11u);
}

TEST(LinearProbe, ShuffledTestLabelsGiveChance) {
  sdk::EvalInput in = separable(10, 32, 50, 30, 2);
  at::Generator g = ep::test::gen(7);
  in.test.labels = in.test.labels.index_select(0, at::randperm(in.test.labels.size(0), g, at::kLong));
  ep::LinearProbe probe(options());
  const sdk::Metrics m = probe.evaluate(in);
  EXPECT_LT(m.at("top1"), 25.0);
}

TEST(LinearProbe, NoTop5WithFiveClassesOrFewer) {
  ep::LinearProbe probe(options());
  const sdk::Metrics m = probe.evaluate(separable(5, 8, 20, 10, 3));
  EXPECT_FALSE(m.count("top5"));
  EXPECT_GT(m.at("top1"), 95.0);
}

TEST(LinearProbe, FitMinimisesThePenalisedCrossEntropy) {
  // At the optimum the gradient vanishes: X^T (P - Y) / n + λ W = 0 and sum(P - Y) = 0.
  sdk::EvalInput in = separable(3, 4, 30, 1, 4);
  in.train.features = in.train.features * 0.2;  // overlapping clusters: a finite optimum
  const double l2 = 1e-2;
  const ep::LogisticFit f = ep::fit_logistic(in.train.features, in.train.labels, 3, l2, 200);
  const ep::LogisticModel& m = f.model;
  const at::Tensor p = at::softmax(m.scores(in.train.features), 1) - at::one_hot(in.train.labels, 3).to(at::kFloat);
  const double n = static_cast<double>(in.train.labels.size(0));
  const at::Tensor gw = at::mm(in.train.features.t(), p) / n + l2 * m.weight;
  EXPECT_LT(gw.abs().max().item<double>(), 1e-4);
  EXPECT_LT((p.sum(0) / n).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(f.converged);
  EXPECT_LT(f.iterations, 200);
  EXPECT_NEAR(f.grad_max, std::max(gw.abs().max().item<double>(), (p.sum(0) / n).abs().max().item<double>()), 1e-6);
}

// A fit started from a nearby problem's solution (the next lambda of the path) reaches the same minimiser in fewer
// iterations; a fit cut short by max_iter says it did not converge.
TEST(LinearProbe, AWarmStartReachesTheSameMinimiserAndACapIsReported) {
  sdk::EvalInput in = separable(4, 16, 60, 1, 6);
  in.train.features = in.train.features * 0.3;
  const ep::LogisticFit near = ep::fit_logistic(in.train.features, in.train.labels, 4, 1e-2, 500);
  const ep::LogisticFit cold = ep::fit_logistic(in.train.features, in.train.labels, 4, 1e-3, 500);
  const ep::LogisticFit warm = ep::fit_logistic(in.train.features, in.train.labels, 4, 1e-3, 500, &near.model);
  ASSERT_TRUE(cold.converged && warm.converged);
  EXPECT_LT(warm.iterations, cold.iterations);
  // The same minimum, to float32's reach (the objective is flat there): the same objective value and predictions.
  const auto objective = [&](const ep::LogisticModel& m) {
    return at::cross_entropy_loss(m.scores(in.train.features), in.train.labels).item<double>() +
           0.5e-3 * m.weight.square().sum().item<double>();
  };
  EXPECT_NEAR(objective(warm.model), objective(cold.model), 1e-5 * objective(cold.model));
  EXPECT_TRUE(at::equal(warm.model.scores(in.test.features).argmax(1), cold.model.scores(in.test.features).argmax(1)));
  const ep::LogisticFit cut = ep::fit_logistic(in.train.features, in.train.labels, 4, 1e-3, 2);
  EXPECT_EQ(cut.iterations, 2);
  EXPECT_FALSE(cut.converged);
  // The probe's metrics say whether every fit converged, and how long the final one took.
  ep::LinearProbe capped(options({{"max_iter", 2}}));
  const sdk::Metrics mc = capped.evaluate(in);
  EXPECT_EQ(mc.at("converged"), 0.0);
  EXPECT_EQ(mc.at("fit_iters"), 2.0);
  ep::LinearProbe probe(options());
  const sdk::Metrics m = probe.evaluate(in);
  EXPECT_EQ(m.at("converged"), 1.0);
  EXPECT_GT(m.at("fit_iters"), 0.0);
}

TEST(LinearProbe, SelectL2TakesTheBestHeldOutCountTiesToTheLargerPenalty) {
  EXPECT_EQ(ep::select_l2({1e-6, 1e-4, 1e-2}, {10, 12, 11}), 1u);
  EXPECT_EQ(ep::select_l2({1e-6, 1e-4, 1e-2}, {12, 12, 11}), 1u);
  EXPECT_EQ(ep::select_l2({1e-2, 1e-4, 1e-6}, {12, 12, 12}), 0u);
  EXPECT_EQ(ep::select_l2({1e-3}, {0}), 0u);
  EXPECT_THROW(ep::select_l2({1e-3, 1e-2}, {1}), std::invalid_argument);
}

TEST(LinearProbe, SelectL2ByNllTakesTheLowestHeldOutLossTiesToTheLargerPenalty) {
  EXPECT_EQ(ep::select_l2_by_nll({1e-6, 1e-4, 1e-2}, {0.9, 0.7, 0.8}), 1u);
  EXPECT_EQ(ep::select_l2_by_nll({1e-6, 1e-4, 1e-2}, {0.7, 0.7, 0.8}), 1u);
  EXPECT_EQ(ep::select_l2_by_nll({1e-2, 1e-4}, {0.5, 0.5}), 0u);
  EXPECT_EQ(ep::select_l2_by_nll({1e-6, 1e-4}, {std::nan(""), 2.0}), 1u) << "a diverged fit is never chosen";
  EXPECT_THROW(ep::select_l2_by_nll({1e-3, 1e-2}, {1.0}), std::invalid_argument);
}

// Where both penalties classify every held-out row correctly, top-1 cannot tell them apart (the tie goes to the
// larger); the held-out cross-entropy can: the smaller penalty's sharper probabilities fit separable rows better.
TEST(LinearProbe, ByNllTheHeldOutLossDecidesWhereTheCountsTie) {
  const sdk::EvalInput in = separable(4, 8, 40, 10, 5);
  const sdk::Metrics by_top1 = ep::LinearProbe(options({{"l2_grid", {1e-3, 1e-1}}})).evaluate(in);
  EXPECT_EQ(by_top1.at("holdout_top1"), 100.0);
  EXPECT_EQ(by_top1.at("l2"), 1e-1);
  const sdk::Metrics by_nll = ep::LinearProbe(options({{"l2_grid", {1e-3, 1e-1}}, {"select", "nll"}})).evaluate(in);
  EXPECT_EQ(by_nll.at("holdout_top1"), 100.0);
  EXPECT_EQ(by_nll.at("l2"), 1e-3);
  EXPECT_LT(by_nll.at("holdout_nll"), by_top1.at("holdout_nll"));
}

TEST(LinearProbe, ChoosesTheLargerPenaltyWhenBothArePerfect) {
  ep::LinearProbe probe(options({{"l2_grid", {1e-6, 1e-5}}}));
  const sdk::Metrics m = probe.evaluate(separable(4, 8, 40, 10, 5));
  EXPECT_EQ(m.at("holdout_top1"), 100.0);
  EXPECT_EQ(m.at("l2"), 1e-5);
}

TEST(LinearProbe, AHugePenaltyLosesOnImbalancedClasses) {
  // 90% of the rows are class 0: with λ = 1e3 the weights vanish and the bias predicts class 0 everywhere
  // (held-out top-1 about 90); a small λ separates the clusters (100). The larger λ must not be chosen.
  at::Generator g = ep::test::gen(6);
  const at::Tensor centres = ep::test::random_centres(2, 8, 3.0, g);
  auto part = [&](std::int64_t n0, std::int64_t n1) {
    sdk::FeatureSplit a = ep::test::clusters(centres.narrow(0, 0, 1), n0, 1.0, g);
    sdk::FeatureSplit b = ep::test::clusters(centres.narrow(0, 1, 1), n1, 1.0, g);
    return sdk::FeatureSplit{at::cat({a.features, b.features}), at::cat({a.labels, b.labels + 1})};
  };
  sdk::EvalInput in{part(180, 20), part(90, 10), 2, 11};
  ep::LinearProbe big_only(options({{"l2_grid", {1e3}}}));
  EXPECT_LT(big_only.evaluate(in).at("holdout_top1"), 95.0);
  ep::LinearProbe probe(options({{"l2_grid", {1e-4, 1e3}}}));
  const sdk::Metrics m = probe.evaluate(in);
  EXPECT_EQ(m.at("l2"), 1e-4);
  EXPECT_EQ(m.at("holdout_top1"), 100.0);
  EXPECT_GT(m.at("top1"), 97.0);
}

TEST(LinearProbe, StratifiedHoldoutIsPerClassSeededAndKeepsOneToFit) {
  const at::Tensor y = at::tensor(std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 1, 0}, at::kLong);
  const ep::HoldoutSplit s = ep::stratified_holdout(y, 4, 0.5, 3);
  // class 0: 11 rows -> round(5.5) = 6; class 1: 4 -> 2; class 2: 1 -> 0; class 3: none
  const at::Tensor held_y = y.index_select(0, s.held);
  EXPECT_EQ(held_y.eq(0).sum().item<std::int64_t>(), 6);
  EXPECT_EQ(held_y.eq(1).sum().item<std::int64_t>(), 2);
  EXPECT_EQ(held_y.eq(2).sum().item<std::int64_t>(), 0);
  EXPECT_EQ(s.fit.numel() + s.held.numel(), y.numel());
  EXPECT_TRUE(at::equal(std::get<0>(at::sort(at::cat({s.fit, s.held}))), at::arange(y.numel(), at::kLong)));
  EXPECT_TRUE(at::equal(s.held, ep::stratified_holdout(y, 4, 0.5, 3).held));
  // a tiny fraction still holds out one row of each class with >= 2 rows
  EXPECT_EQ(ep::stratified_holdout(y, 4, 0.01, 3).held.numel(), 2);
  EXPECT_EQ(ep::stratified_holdout(y, 4, 0.0, 3).held.numel(), 0);
}

TEST(LinearProbe, BatchnormMakesItInvariantToPerDimensionScale) {
  // overlapping clusters (centre scale 0.6, noise 1): accuracy well below 100, so a changed fit would show
  at::Generator g = ep::test::gen(8);
  const at::Tensor centres = ep::test::random_centres(6, 16, 0.6, g);
  sdk::EvalInput in{ep::test::clusters(centres, 40, 1.0, g), ep::test::clusters(centres, 20, 1.0, g), 6, 8};
  // dimension 0 carries noise only; the copy `scaled` multiplies it by 1e4 and the others by 0.5 .. 8
  in.train.features.select(1, 0).copy_(at::randn({240}, g));
  in.test.features.select(1, 0).copy_(at::randn({120}, g));
  at::Tensor scale = at::pow(2.0, at::arange(16, at::kFloat).remainder(5) - 1);
  scale[0] = 1e4;
  sdk::EvalInput scaled = in;
  scaled.train.features = in.train.features * scale;
  scaled.test.features = in.test.features * scale;
  // the standardised features agree
  const ep::Standardizer a = ep::Standardizer::fit(in.train.features), b = ep::Standardizer::fit(scaled.train.features);
  EXPECT_TRUE(at::allclose(a.apply(in.test.features), b.apply(scaled.test.features), 1e-4, 1e-4));

  ep::LinearProbe bn(options({{"batchnorm", true}}));
  const sdk::Metrics m1 = bn.evaluate(in), m2 = bn.evaluate(scaled);
  EXPECT_NEAR(m1.at("top1"), m2.at("top1"), 100.0 / 120.0 + 1e-9);  // at most one test row differs
  EXPECT_EQ(m1.at("l2"), m2.at("l2"));
  EXPECT_NEAR(m1.at("holdout_top1"), m2.at("holdout_top1"), 100.0 / 24.0 + 1e-9);
  EXPECT_GT(m1.at("top1"), 40.0);  // chance is 16.7
  EXPECT_LT(m1.at("top1"), 95.0);
  // (without batchnorm the 1e4-scaled noise dimension dominates the fit: about 58 on `scaled` vs 82 on `in`)
}

TEST(LinearProbe, DeterministicForASeed) {
  ep::LinearProbe probe(options());
  const sdk::EvalInput in = separable(10, 32, 30, 20, 12);
  EXPECT_EQ(probe.evaluate(in), probe.evaluate(in));
}
