#pragma once
// What the options of the `vit` encoder and the `vit_predictor` share: the attention and linear keys' doc lines.
// (Optional keys are read with sdk::read_optional, SDK 1.3.)
#include <nlohmann/json.hpp>

#include "ijepa/sdk/config.hpp"

namespace ijepa::plugins::vit {

// The doc line of the "attention" key of both plugins (values: parse_attention_kernel in vit_attention.hpp).
inline constexpr const char* kAttentionDoc =
    "attention kernel, the same function: auto (fused SDPA on CUDA, explicit softmax on the CPU), sdpa or explicit "
    "(to measure one against the other)";

// The doc line of the "linear" key of both plugins (values: parse_linear_kernel in vit_linear.hpp).
inline constexpr const char* kLinearDoc =
    "linear-layer kernel, the same function: auto (oneDNN's inner product for fp32 on the CPU, at::linear otherwise: "
    "ijepa/sdk/linear.hpp) or aten (at::linear everywhere, to measure one against the other)";

}  // namespace ijepa::plugins::vit
