#pragma once
// VitMlp: fc1 -> exact (erf) GELU -> fc2; state-dict keys fc1.*, fc2.* (reference `MLP`).
#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "ijepa/sdk/linear.hpp"

namespace ijepa::plugins::vit {

class VitMlpImpl : public torch::nn::Module {
 public:
  VitMlpImpl(std::int64_t dim, std::int64_t hidden);
  // forward(x [..., D]) -> [..., D]
  at::Tensor forward(const at::Tensor& x);
  // The kernel of fc1 and fc2 (config key "linear"; sdk::linear).
  void set_linear_kernel(sdk::LinearKernel k) { linear_kernel_ = k; }

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};

 private:
  sdk::LinearKernel linear_kernel_ = sdk::LinearKernel::kAuto;
};
TORCH_MODULE(VitMlp);

}  // namespace ijepa::plugins::vit
