#include "vit_init.hpp"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace ijepa::plugins::vit {

namespace {
double norm_cdf(double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; }

void zero_if_defined(at::Tensor& t) {
  if (t.defined()) t.zero_();
}
}  // namespace

void trunc_normal_(at::Tensor& t, double std, double a, double b) {
  at::NoGradGuard no_grad;
  const double lo = norm_cdf(a / std);
  const double hi = norm_cdf(b / std);
  t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

void init_vit_weights(torch::nn::Module& m) {
  at::NoGradGuard no_grad;
  for (const auto& child : m.modules(/*include_self=*/false)) {
    if (auto* lin = child->as<torch::nn::Linear>()) {
      trunc_normal_(lin->weight);
      zero_if_defined(lin->bias);
    } else if (auto* conv = child->as<torch::nn::Conv2d>()) {
      trunc_normal_(conv->weight);
      zero_if_defined(conv->bias);
    } else if (auto* ln = child->as<torch::nn::LayerNorm>()) {
      if (ln->weight.defined()) ln->weight.fill_(1.0);
      zero_if_defined(ln->bias);
    }
  }
}

}  // namespace ijepa::plugins::vit
