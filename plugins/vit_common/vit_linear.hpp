#pragma once
// linear(layer, x, kernel): the layer's F.linear, through sdk::linear (oneDNN for fp32 on the CPU, at::linear
// otherwise; ijepa/sdk/linear.hpp), and the config key "linear" that picks the kernel.
//
// Not torch::nn::Linear::forward (libtorch's C++ functional linear), which runs a 3-D input as matmul + an in-place
// bias add instead of at::linear's fused addmm; under bf16 autocast that add also goes through an fp32 copy of the
// bf16 output. Measured on the ViT-Tiny/4 CPU step: 797 add_ calls (39 ms) and 73 ms of copies per step vs 677
// (7 ms) and 42 ms through at::linear (docs/benchmarks.md). Same keys and parameters, only the call differs.
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "ijepa/sdk/linear.hpp"

namespace ijepa::plugins::vit {

inline at::Tensor linear(const torch::nn::Linear& layer, const at::Tensor& x, sdk::LinearKernel kernel) {
  return sdk::linear(x, layer->weight, layer->bias, kernel);
}

// "auto" | "aten" (config key "linear" of the vit and vit_predictor plugins); throws std::invalid_argument (one line
// naming the key) otherwise.
inline sdk::LinearKernel parse_linear_kernel(const std::string& name) {
  if (name == "auto") return sdk::LinearKernel::kAuto;
  if (name == "aten") return sdk::LinearKernel::kAten;
  throw std::invalid_argument("key 'linear': must be \"auto\" or \"aten\", got \"" + name + "\"");
}

}  // namespace ijepa::plugins::vit
