// sdk::linear: oneDNN's inner product for fp32 on the CPU computes F.linear and its gradients; everything else is
// at::linear.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>

#include "ijepa/sdk/linear.hpp"

namespace ijepa::sdk {
namespace {

std::string grad_fn_name(const at::Tensor& t) { return t.grad_fn() ? t.grad_fn()->name() : std::string("(none)"); }

double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() /
         std::max(1e-12, b.to(at::kDouble).abs().max().item<double>());
}

struct Grads {
  at::Tensor y, dx, dw, db;
};

// y = linear(x, w, b) and the gradients of sum(y * g) for a fixed random g.
Grads run(const at::Tensor& x0, const at::Tensor& w0, const at::Tensor& b0, LinearKernel k) {
  const at::Tensor x = x0.detach().requires_grad_(true);
  const at::Tensor w = w0.detach().requires_grad_(true);
  const at::Tensor b = b0.defined() ? b0.detach().requires_grad_(true) : at::Tensor();
  const at::Tensor y = linear(x, w, b, k);
  at::manual_seed(99);
  const at::Tensor g = at::randn(y.sizes());
  std::vector<at::Tensor> inputs = {x, w};
  if (b.defined()) inputs.push_back(b);
  const auto grads = torch::autograd::grad({(y * g).sum()}, inputs);
  return {y.detach(), grads[0], grads[1], b.defined() ? grads[2] : at::Tensor()};
}

class SdkLinear : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!at::hasMKLDNN()) GTEST_SKIP() << "this torch build has no oneDNN";
    ASSERT_NE(detail::onednn_linear_op(), nullptr) << "oneDNN is built in but mkldnn::_linear_pointwise was not found";
  }
};

// Forward and all three gradients against at::linear, for a 3-D input, both orientations of the weight gradient
// (K <= N and K > N), with and without a bias, and for a non-contiguous input.
TEST_F(SdkLinear, OneDnnComputesFLinearAndItsGradients) {
  at::manual_seed(1);
  struct Case {
    std::vector<std::int64_t> x;
    std::int64_t n;
    bool bias;
    bool transposed;
  };
  for (const Case& c : {Case{{3, 37, 24}, 40, true, false}, Case{{3, 37, 48}, 20, true, false},
                        Case{{50, 24}, 40, false, false}, Case{{4, 24, 9}, 16, true, true}}) {
    at::Tensor x = at::randn(c.x);
    if (c.transposed) x = x.transpose(1, 2);  // [4, 9, 24], not contiguous
    const std::int64_t k = x.size(-1);
    const at::Tensor w = at::randn({c.n, k}) * 0.2;
    const at::Tensor b = c.bias ? at::randn({c.n}) : at::Tensor();
    const Grads fast = run(x, w, b, LinearKernel::kAuto);
    const Grads ref = run(x, w, b, LinearKernel::kAten);
    SCOPED_TRACE("x " + std::to_string(x.dim()) + "-D, K " + std::to_string(k) + ", N " + std::to_string(c.n));
    EXPECT_EQ(fast.y.sizes(), ref.y.sizes());
    EXPECT_LT(rel_diff(fast.y, ref.y), 1e-5);
    EXPECT_EQ(fast.dx.sizes(), x.sizes());
    EXPECT_LT(rel_diff(fast.dx, ref.dx), 1e-5);
    EXPECT_EQ(fast.dw.sizes(), w.sizes());
    EXPECT_LT(rel_diff(fast.dw, ref.dw), 1e-5);
    if (c.bias) {
      EXPECT_LT(rel_diff(fast.db, ref.db), 1e-5);
    }
  }
}

// kAuto takes oneDNN for fp32 CPU tensors (its own autograd node); kAten is at::linear itself.
TEST_F(SdkLinear, AutoTakesOneDnnForFp32AndAtenIsAtLinear) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({5, 8}).requires_grad_(true);
  const at::Tensor w = at::randn({6, 8}).requires_grad_(true);
  const at::Tensor b = at::randn({6}).requires_grad_(true);
  EXPECT_TRUE(onednn_linear_applies(x, w));
  const std::string fast = grad_fn_name(linear(x, w, b));
  EXPECT_NE(fast.find("OneDnnLinearFunction"), std::string::npos) << fast;
  const at::Tensor aten = linear(x, w, b, LinearKernel::kAten);
  EXPECT_EQ(grad_fn_name(aten).find("OneDnn"), std::string::npos);
  EXPECT_TRUE(at::equal(aten, at::linear(x, w, b)));
}

// Where oneDNN's fp32 kernel does not apply, kAuto is exactly at::linear: double, bf16 autocast on the CPU (ATen
// already multiplies bf16 in oneDNN there), a 1-D input or weight, an empty batch.
TEST_F(SdkLinear, EverythingElseIsAtLinear) {
  at::manual_seed(3);
  const at::Tensor xd = at::randn({5, 8}, at::kDouble);
  const at::Tensor wd = at::randn({6, 8}, at::kDouble);
  EXPECT_FALSE(onednn_linear_applies(xd, wd));
  EXPECT_TRUE(at::equal(linear(xd, wd, at::Tensor()), at::linear(xd, wd, at::Tensor())));

  const at::Tensor x = at::randn({5, 8});
  const at::Tensor w = at::randn({6, 8});
  const at::Tensor b = at::randn({6});
  {
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    const bool applies = onednn_linear_applies(x, w);
    const at::Tensor y = linear(x, w, b);
    const at::Tensor ref = at::linear(x, w, b);
    at::autocast::set_autocast_enabled(at::kCPU, false);
    at::autocast::clear_cache();
    EXPECT_FALSE(applies);
    EXPECT_EQ(y.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::equal(y, ref));
  }
  const at::Tensor x1 = at::randn({8});
  EXPECT_FALSE(onednn_linear_applies(x1, w));
  EXPECT_TRUE(at::equal(linear(x1, w, b), at::linear(x1, w, b)));
  const at::Tensor w1 = at::randn({8});
  EXPECT_FALSE(onednn_linear_applies(x, w1));
  EXPECT_TRUE(at::equal(linear(x, w1, at::Tensor()), at::linear(x, w1, at::Tensor())));
  const at::Tensor x0 = at::randn({0, 8});
  EXPECT_EQ(linear(x0, w, b).sizes(), (std::vector<std::int64_t>{0, 6}));
}

}  // namespace
}  // namespace ijepa::sdk
