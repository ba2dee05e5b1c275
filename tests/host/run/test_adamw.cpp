#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include "adamw_check.hpp"
#include "ijepa/host/run/adamw.hpp"

using namespace ijepa::host;

// Our AdamW against LibTorch's torch::optim::AdamW (same algorithm as torch.optim.AdamW).
TEST(AdamW, MatchesLibTorchAdamWWithGroupsAndDecay) {
  at::manual_seed(3);
  at::Tensor w1 = at::randn({4, 3}).requires_grad_(true), b1 = at::randn({3}).requires_grad_(true);
  at::Tensor w2 = w1.detach().clone().requires_grad_(true), b2 = b1.detach().clone().requires_grad_(true);
  AdamW ours({ParamGroup{"decay", true, {{"w", w1}}}, ParamGroup{"no_wd", false, {{"b", b1}}}});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{w2}, std::make_unique<torch::optim::AdamWOptions>(1e-3));
  groups.emplace_back(std::vector<at::Tensor>{b2}, std::make_unique<torch::optim::AdamWOptions>(1e-3));
  torch::optim::AdamW ref(groups, torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8));
  for (int step = 1; step <= 20; ++step) {
    const double lr = 1e-3 * step, wd = 0.04 + 0.01 * step;
    for (auto* g : {&ref.param_groups()[0], &ref.param_groups()[1]}) static_cast<torch::optim::AdamWOptions&>(g->options()).lr(lr);
    static_cast<torch::optim::AdamWOptions&>(ref.param_groups()[0].options()).weight_decay(wd);
    static_cast<torch::optim::AdamWOptions&>(ref.param_groups()[1].options()).weight_decay(0.0);
    const at::Tensor x = at::randn({5, 4});
    (x.matmul(w1) + b1).pow(2).sum().backward();
    (x.matmul(w2) + b2).pow(2).sum().backward();
    ours.step(lr, wd);
    ours.zero_grad();
    ref.step();
    ref.zero_grad();
    ASSERT_TRUE(at::allclose(w1, w2, 1e-6, 1e-7)) << "step " << step;
    ASSERT_TRUE(at::allclose(b1, b2, 1e-6, 1e-7)) << "step " << step;
  }
  EXPECT_EQ(ours.step_count(), 20);
}

TEST(AdamW, FusedMatchesUnfusedOnCpu) { ijepa::test::fused_adamw_matches_unfused(at::Device(at::kCPU)); }

TEST(AdamW, StateRoundTripContinuesBitExactly) {
  at::manual_seed(1);
  at::Tensor w = at::randn({6}).requires_grad_(true);
  at::Tensor v = w.detach().clone().requires_grad_(true);
  AdamW a({ParamGroup{"g", true, {{"w", w}}}});
  AdamW b({ParamGroup{"g", true, {{"w", v}}}});
  auto run = [](AdamW& o, at::Tensor& p, int steps) {
    for (int i = 0; i < steps; ++i) {
      (p * p * (i + 1)).sum().backward();
      o.step(1e-2, 0.1);
      o.zero_grad();
    }
  };
  run(a, w, 3);
  run(b, v, 3);
  // copy a's state into a fresh optimiser over b's parameter and continue both
  AdamW c({ParamGroup{"g", true, {{"w", v}}}});
  c.load_state(a.state(), a.step_count());
  run(a, w, 4);
  run(c, v, 4);
  EXPECT_TRUE(at::equal(w, v));
  EXPECT_THROW(c.load_state({}, 0), std::runtime_error);
}
