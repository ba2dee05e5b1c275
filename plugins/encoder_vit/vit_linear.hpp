#pragma once
// linear(layer, x): at::linear with the layer's weight and bias, as Python's F.linear calls it.
//
// torch::nn::Linear::forward (libtorch's C++ functional linear) runs a 3-D input as matmul + an in-place bias
// add instead of at::linear's fused addmm; under bf16 autocast that add also goes through an fp32 copy of the
// bf16 output. Measured on the ViT-Tiny/4 CPU step: 797 add_ calls (39 ms) and 73 ms of copies per step vs 677
// (7 ms) and 42 ms through at::linear (docs/benchmarks.md). Same keys and parameters, only the call differs.
#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

namespace ijepa::plugins::vit {

inline at::Tensor linear(const torch::nn::Linear& layer, const at::Tensor& x) {
  return at::linear(x, layer->weight, layer->bias);
}

}  // namespace ijepa::plugins::vit
