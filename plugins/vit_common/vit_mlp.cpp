#include "vit_mlp.hpp"

#include <ATen/ATen.h>

#include "vit_linear.hpp"

namespace ijepa::plugins::vit {

VitMlpImpl::VitMlpImpl(std::int64_t dim, std::int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(dim, hidden).bias(true)));
  fc2 = register_module("fc2", torch::nn::Linear(torch::nn::LinearOptions(hidden, dim).bias(true)));
}

at::Tensor VitMlpImpl::forward(const at::Tensor& x) {
  return linear(fc2, at::gelu(linear(fc1, x, linear_kernel_)), linear_kernel_);
}

}  // namespace ijepa::plugins::vit
