#pragma once
// Plain value types shared by all component interfaces.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ijepa/sdk/host_services.hpp"

namespace ijepa::sdk {

// Patch grid of an image: h rows by w columns; token n = row * w + col.
struct PatchGrid {
  std::int64_t h = 0;
  std::int64_t w = 0;
  std::int64_t count() const { return h * w; }
};

// Masks of one batch. Each tensor is int64 [B, K] of patch ids (spec §2.5); valid until the caller drops it.
struct MaskSet {
  std::vector<at::Tensor> context;  // num_enc_masks tensors [B, K_enc]
  std::vector<at::Tensor> target;   // num_pred_masks tensors [B, K_pred]
  std::int64_t fallbacks = 0;       // context samples that had to drop target exclusions (spec §2.4 `tries`)
};

// What a factory knows about the run when it builds a component. Valid only during the factory call.
struct BuildContext {
  const HostServices* host = nullptr;  // for logging; outlives every component
  std::uint64_t seed = 0;              // run seed
  std::int64_t image_size = 0;         // input side in pixels (square images)
  std::int64_t patch_size = 0;         // patch side in pixels
  std::int64_t in_chans = 3;           // input channels
  PatchGrid grid;                      // image_size / patch_size on each side
  std::int64_t encoder_dim = 0;        // encoder width D (0 for the masker, built first, and the encoder itself)
  std::int64_t encoder_heads = 0;      // encoder attention heads (0 for the masker and the encoder itself)
  std::int64_t encoder_depth = 0;      // encoder blocks (0 for the masker and the encoder itself)
};

// Scalar metrics a component reports (name -> value), logged into metrics.jsonl / eval.jsonl.
using Metrics = std::map<std::string, double>;

}  // namespace ijepa::sdk
