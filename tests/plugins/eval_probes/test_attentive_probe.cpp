// attentive_probe: the pooler's structure and init, heads, schedules, and a task only attention can solve.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "attentive_pooler.hpp"
#include "attentive_probe.hpp"
#include "eval_test_util.hpp"
#include "linear_probe.hpp"

namespace ep = ijepa::plugins::eval_probes;
namespace sdk = ijepa::sdk;

namespace {
ep::AttentiveProbeOptions attentive_options(nlohmann::json over = nlohmann::json::object()) {
  nlohmann::json cfg = ep::AttentiveProbeOptions::defaults();
  cfg.update(over);
  return ep::AttentiveProbeOptions::from_json(cfg);
}

// Tokens [n, T, D] whose label is the content of the one "marked" token (dimension 0 = 4) at a random position;
// the other tokens are the C - 1 other class vectors (unmarked) and Gaussian noise, so every row holds every
// class vector once and the token mean does not depend on the label (beyond the noise).
sdk::FeatureSplit hidden_signal(std::int64_t n, std::int64_t T, std::int64_t D, const at::Tensor& signals,
                                at::Generator& g) {
  const std::int64_t C = signals.size(0);
  at::Tensor x = at::randn({n, T, D}, g) * 0.5;
  x.select(2, 0).zero_();
  const at::Tensor y = at::randint(C, {n}, g, at::kLong);
  for (std::int64_t i = 0; i < n; ++i) {
    const at::Tensor pos = at::randperm(T, g, at::kLong);
    const std::int64_t label = y[i].item<std::int64_t>();
    for (std::int64_t c = 0, slot = 1; c < C; ++c) {
      const std::int64_t t = (c == label) ? pos[0].item<std::int64_t>() : pos[slot++].item<std::int64_t>();
      x[i][t].copy_(signals[c]);
      if (c == label) x[i][t][0] = 4.0;
    }
  }
  return {x, y};
}

sdk::EvalInput hidden_signal_task(std::uint64_t seed) {
  at::Generator g = ep::test::gen(seed);
  constexpr std::int64_t C = 4, T = 8, D = 16;
  // class c's vector: 3 in dimension 1 + c (orthogonal, unmarked)
  const at::Tensor signals = at::cat({at::zeros({C, 1}), at::eye(C) * 3.0, at::zeros({C, D - 1 - C})}, 1);
  sdk::EvalInput in;
  in.train = hidden_signal(600, T, D, signals, g);
  in.test = hidden_signal(200, T, D, signals, g);
  in.num_classes = C;
  in.seed = seed;
  return in;
}

}  // namespace

TEST(AttentiveProbe, SolvesATaskThatMeanPoolingCannot) {
  const sdk::EvalInput in = hidden_signal_task(41);
  // lr 1e-2 rather than 1e-3: ten short epochs (190 steps) are enough to learn where to look
  ep::AttentiveProbe probe(attentive_options({{"epochs", 10}, {"batch_size", 32}, {"num_heads", 4}, {"lr", 1e-2}}), 0);
  const sdk::Metrics m = probe.evaluate(in);
  EXPECT_GT(m.at("top1"), 95.0);
  EXPECT_LT(m.at("final_train_loss"), 0.1);
  EXPECT_FALSE(m.count("top5"));

  sdk::EvalInput pooled = in;
  pooled.train.features = in.train.features.mean(1);
  pooled.test.features = in.test.features.mean(1);
  nlohmann::json cfg = ep::LinearProbeOptions::defaults();
  ep::LinearProbe linear(ep::LinearProbeOptions::from_json(cfg));
  EXPECT_LT(linear.evaluate(pooled).at("top1"), 40.0);  // chance is 25
}

TEST(AttentiveProbe, DeterministicGivenTheSeedWhateverTheGlobalGenerator) {
  sdk::EvalInput in = hidden_signal_task(42);
  in.train.features = in.train.features.narrow(0, 0, 200);
  in.train.labels = in.train.labels.narrow(0, 0, 200);
  ep::AttentiveProbe probe(attentive_options({{"epochs", 2}, {"batch_size", 64}}), 0);
  at::manual_seed(1);
  const sdk::Metrics a = probe.evaluate(in);
  at::manual_seed(2);
  (void)at::rand({100});
  const sdk::Metrics b = probe.evaluate(in);
  EXPECT_EQ(a, b);
  {
    at::NoGradGuard no_grad;  // the caller's grad mode does not matter
    EXPECT_EQ(probe.evaluate(in), a);
  }
  {
    c10::InferenceMode inference;
    ep::test::expect_one_line_error([&] { probe.evaluate(in); }, "cannot run inside c10::InferenceMode");
  }
  in.seed = 43;
  EXPECT_NE(a.at("final_train_loss"), probe.evaluate(in).at("final_train_loss"));
}

TEST(AttentiveProbe, ReportsTop5WithMoreThanFiveClasses) {
  at::Generator g = ep::test::gen(44);
  sdk::EvalInput in;
  in.train = {at::randn({40, 3, 8}, g), at::randint(7, {40}, g, at::kLong)};
  in.test = {at::randn({20, 5, 8}, g), at::randint(7, {20}, g, at::kLong)};  // another token count is fine
  in.num_classes = 7;
  ep::AttentiveProbe probe(attentive_options({{"epochs", 1}}), 4);
  const sdk::Metrics m = probe.evaluate(in);
  EXPECT_TRUE(m.count("top5"));
  EXPECT_TRUE(std::isfinite(m.at("final_train_loss")));
}

TEST(AttentiveProbe, ParameterNamesShapesAndInitFollowTheReference) {
  at::Generator g = ep::test::gen(45);
  ep::AttentiveClassifier model(64, 4, 10, g);
  const auto p = model->named_parameters();
  const std::vector<std::pair<std::string, std::vector<std::int64_t>>> expected = {
      {"pooler.query_tokens", {1, 1, 64}},
      {"pooler.cross_attention_block.norm1.weight", {64}},
      {"pooler.cross_attention_block.xattn.q.weight", {64, 64}},
      {"pooler.cross_attention_block.xattn.q.bias", {64}},
      {"pooler.cross_attention_block.xattn.kv.weight", {128, 64}},
      {"pooler.cross_attention_block.xattn.proj.weight", {64, 64}},
      {"pooler.cross_attention_block.norm2.bias", {64}},
      {"pooler.cross_attention_block.mlp.fc1.weight", {256, 64}},
      {"pooler.cross_attention_block.mlp.fc2.weight", {64, 256}},
      {"linear.weight", {10, 64}},
      {"linear.bias", {10}}};
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(p.contains(name)) << name;
    EXPECT_EQ(p[name].sizes().vec(), shape) << name;
  }
  EXPECT_EQ(p.size(), 17u);
  auto std_of = [&](const char* n) { return p[n].std().item<double>(); };
  EXPECT_NEAR(std_of("pooler.cross_attention_block.mlp.fc1.weight"), 0.02, 0.002);
  EXPECT_NEAR(std_of("pooler.cross_attention_block.xattn.kv.weight"), 0.02, 0.002);
  EXPECT_NEAR(std_of("pooler.cross_attention_block.mlp.fc2.weight"), 0.02 / std::sqrt(2.0), 0.0015);
  EXPECT_NEAR(std_of("pooler.cross_attention_block.xattn.proj.weight"), 0.02 / std::sqrt(2.0), 0.0015);
  EXPECT_EQ(p["linear.bias"].abs().max().item<double>(), 0.0);
  EXPECT_EQ(p["pooler.cross_attention_block.norm1.weight"].min().item<double>(), 1.0);
  EXPECT_EQ(p["pooler.cross_attention_block.norm2.bias"].abs().max().item<double>(), 0.0);
  // the same generator seed gives the same model
  at::Generator g2 = ep::test::gen(45);
  ep::AttentiveClassifier again(64, 4, 10, g2);
  EXPECT_TRUE(at::equal(again->named_parameters()["pooler.query_tokens"], p["pooler.query_tokens"]));
  const at::Tensor out = model->forward(at::randn({3, 5, 64}));
  EXPECT_EQ(out.sizes().vec(), (std::vector<std::int64_t>{3, 10}));
}

TEST(AttentiveProbe, HeadsComeFromTheConfigThenTheEncoderThenTheWidth) {
  EXPECT_EQ(ep::resolve_heads(2, 6, 16), 2);
  EXPECT_EQ(ep::resolve_heads(0, 6, 384), 6);
  EXPECT_EQ(ep::resolve_heads(0, 0, 16), 1);
  EXPECT_EQ(ep::resolve_heads(0, 0, 192), 3);
  ep::test::expect_one_line_error([] { ep::resolve_heads(3, 0, 16); },
                                  "attentive_probe: 3 heads (num_heads) do not divide the token width 16");
  ep::test::expect_one_line_error([] { ep::resolve_heads(0, 5, 16); }, "5 heads (the encoder's heads)");
  ep::test::expect_one_line_error([] { ep::resolve_heads(0, 0, 200); }, "3 heads (max(1, D/64)");
}

TEST(AttentiveProbe, CosineScheduleRunsFromStartToEnd) {
  EXPECT_DOUBLE_EQ(ep::cosine_schedule(0, 100, 1e-3, 0.0), 1e-3);
  EXPECT_NEAR(ep::cosine_schedule(50, 100, 1e-3, 1e-6), (1e-3 + 1e-6) / 2, 1e-12);
  EXPECT_NEAR(ep::cosine_schedule(100, 100, 1e-3, 1e-6), 1e-6, 1e-15);
}
