#pragma once
// VitMlp: fc1 -> exact (erf) GELU -> fc2; state-dict keys fc1.*, fc2.* (reference `MLP`).
#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace ijepa::plugins::vit {

class VitMlpImpl : public torch::nn::Module {
 public:
  VitMlpImpl(std::int64_t dim, std::int64_t hidden);
  // forward(x [..., D]) -> [..., D]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(VitMlp);

}  // namespace ijepa::plugins::vit
