#pragma once
// Weight initialisation of the reference (spec §3.4), deterministic given torch's global generator.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace ijepa::plugins::vit {

inline constexpr double kInitStd = 0.02;

// trunc_normal_(t, std, a, b): the reference's inverse-CDF truncated normal with ABSOLUTE bounds [a, b]
// (src/utils/tensors.py); with std 0.02 and (-2, 2) it is effectively untruncated. In place, no grad.
void trunc_normal_(at::Tensor& t, double std = kInitStd, double a = -2.0, double b = 2.0);

// init_vit_weights(m): the effective init after `init_model`: every Linear and Conv2d in m's tree gets
// trunc_normal(0.02) weights and zero biases, every LayerNorm (1, 0). No depth rescale. Only m's
// descendants are visited (m itself may be under construction, not yet in a shared_ptr).
void init_vit_weights(torch::nn::Module& m);

}  // namespace ijepa::plugins::vit
