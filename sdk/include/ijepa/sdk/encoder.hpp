#pragma once
// Encoder: a torch module mapping images to patch tokens.
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::sdk {

// [one thread at a time] A torch::nn::Module; parameter names are the checkpoint keys (official I-JEPA names).
class IJEPA_SDK_VISIBLE Encoder : public torch::nn::Module {
 public:
  ~Encoder() override = default;
  // encode(images [B,C,S,S], keep) -> [len(*keep)*B, K, D] (mask-major, spec §4), or [B, N, D] when keep is null.
  virtual at::Tensor encode(const at::Tensor& images, const std::vector<at::Tensor>* keep) = 0;
  virtual std::int64_t embed_dim() const = 0;   // D
  virtual std::int64_t num_heads() const = 0;   // attention heads
  virtual std::int64_t depth() const = 0;       // number of blocks
  virtual PatchGrid grid() const = 0;           // patch grid for its image size
  // Optional features by id (see capabilities.hpp); null when unsupported. Pointer valid while *this lives.
  virtual const void* capability(std::string_view id) const noexcept = 0;
};

}  // namespace ijepa::sdk
