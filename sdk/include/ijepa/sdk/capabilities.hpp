#pragma once
// Optional features, looked up by string id through `capability(id)`; ids never change meaning.
#include <cstdint>

#include <ATen/core/Tensor.h>

#include "ijepa/sdk/abi.hpp"

namespace ijepa::sdk {

// Encoder capability "ijepa.attention_maps/1": softmax attention of one block.
inline constexpr const char* kAttentionMapsId = "ijepa.attention_maps/1";
class IJEPA_SDK_VISIBLE AttentionMaps {
 public:
  virtual ~AttentionMaps() = default;
  // attention(images [B,C,S,S], block) -> [B, heads, N, N] float32 (rows = queries), no grad.
  virtual at::Tensor attention(const at::Tensor& images, std::int64_t block) const = 0;
};

// Encoder capability "ijepa.layer_outputs/1": per-block outputs for multi-layer probes.
inline constexpr const char* kLayerOutputsId = "ijepa.layer_outputs/1";
class IJEPA_SDK_VISIBLE LayerOutputs {
 public:
  virtual ~LayerOutputs() = default;
  // last_layers(images, n) -> n tensors [B, N, D], outputs of the last n blocks (last one with the final norm).
  virtual std::vector<at::Tensor> last_layers(const at::Tensor& images, std::int64_t n) const = 0;
};

// Encoder capability "ijepa.block_shape/1" (SDK 1.3): the hidden width of the MLP in each transformer block, for
// analytic FLOP counts (width, heads and depth are the Encoder interface's own).
inline constexpr const char* kBlockShapeId = "ijepa.block_shape/1";
class IJEPA_SDK_VISIBLE BlockShape {
 public:
  virtual ~BlockShape() = default;
  virtual std::int64_t mlp_hidden() const = 0;
};

// Masker capability "ijepa.mask_stats/1": counters since construction.
inline constexpr const char* kMaskStatsId = "ijepa.mask_stats/1";
class IJEPA_SDK_VISIBLE MaskStats {
 public:
  virtual ~MaskStats() = default;
  virtual std::int64_t fallbacks() const = 0;  // context samples that dropped target exclusions
};

// Evaluator capability "ijepa.device_features/1" (SDK 1.4): a marker, answered with any non-null pointer. Such an
// evaluator receives EvalInput's features and labels on the host's evaluation device (the GPU of a CUDA run, or of
// `ijepa eval --device cuda`) and computes there; every other evaluator receives them on the CPU, as before 1.4.
inline constexpr const char* kDeviceFeaturesId = "ijepa.device_features/1";

}  // namespace ijepa::sdk
