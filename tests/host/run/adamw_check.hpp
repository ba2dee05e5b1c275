#pragma once
// Shared by the CPU (test_host_run) and CUDA (test_host_cuda) optimizer tests.
#include <gtest/gtest.h>

#include <vector>

#include <ATen/ATen.h>

#include "ijepa/host/run/adamw.hpp"

namespace ijepa::test {

// The fused multi-tensor step (at::_fused_adamw_, the default) and the per-parameter formula agree, on the CPU
// and, where there is one, on CUDA, over 20 steps with decayed and undecayed groups and a parameter without grad.
inline void fused_adamw_matches_unfused(const at::Device& dev) {
  using namespace ijepa::host;
  at::manual_seed(5);
  const auto o = at::TensorOptions().device(dev);
  std::vector<at::Tensor> a = {at::randn({64, 48}, o), at::randn({48}, o), at::randn({7}, o), at::randn({3, 3}, o)};
  std::vector<at::Tensor> b;
  for (auto& t : a) {
    t.requires_grad_(true);
    b.push_back(t.detach().clone().requires_grad_(true));
  }
  auto groups = [](std::vector<at::Tensor>& p) {
    return std::vector<ParamGroup>{ParamGroup{"decay", true, {{"w", p[0]}, {"frozen", p[3]}}},
                                   ParamGroup{"no_wd", false, {{"b", p[1]}, {"c", p[2]}}}};
  };
  AdamW fused(groups(a));
  AdamW plain(groups(b), 0.9, 0.999, 1e-8, /*fused=*/false);
  for (int step = 1; step <= 20; ++step) {
    const at::Tensor x = at::randn({16, 64}, o);
    for (auto* p : {&a, &b}) {
      ((x.matmul((*p)[0]) + (*p)[1]).tanh().sum() + (*p)[2].pow(2).sum() * step).backward();
    }
    fused.step(1e-2, 0.05 * step);
    plain.step(1e-2, 0.05 * step);
    fused.zero_grad();
    plain.zero_grad();
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_TRUE(at::allclose(a[i], b[i], 1e-5, 1e-6)) << "param " << i << " step " << step << " on " << dev;
    }
  }
  EXPECT_TRUE(at::equal(a[3], b[3]));  // no grad: untouched by both
  const auto sa = fused.state(), sb = plain.state();
  ASSERT_EQ(sa.size(), sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    const at::Tensor d = (sa[i].second.to(at::kDouble) - sb[i].second.to(at::kDouble)).abs();
    EXPECT_LT(d.max().item<double>(), 1e-5 * sa[i].second.abs().max().item<double>() + 1e-6) << sa[i].first;
  }
}

}  // namespace ijepa::test
