#pragma once
// VitEncoder: the I-JEPA VisionTransformer (spec §3) behind the sdk::Encoder interface.
// State-dict keys equal the reference's: patch_embed.proj.*, pos_embed, blocks.{i}.*, norm.*.
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/encoder.hpp"
#include "vit_block.hpp"
#include "vit_encoder_options.hpp"
#include "vit_patch_embed.hpp"

namespace ijepa::plugins::vit {

class VitEncoder;

// "ijepa.attention_maps/1" view of a VitEncoder (lives inside it).
class VitAttentionMapsView final : public sdk::AttentionMaps {
 public:
  explicit VitAttentionMapsView(VitEncoder* enc) : enc_(enc) {}
  at::Tensor attention(const at::Tensor& images, std::int64_t block) const override;

 private:
  VitEncoder* enc_;
};

// "ijepa.layer_outputs/1" view of a VitEncoder (lives inside it).
class VitLayerOutputsView final : public sdk::LayerOutputs {
 public:
  explicit VitLayerOutputsView(VitEncoder* enc) : enc_(enc) {}
  std::vector<at::Tensor> last_layers(const at::Tensor& images, std::int64_t n) const override;

 private:
  VitEncoder* enc_;
};

// "ijepa.block_shape/1": the blocks' MLP width.
class VitBlockShapeView final : public sdk::BlockShape {
 public:
  explicit VitBlockShapeView(VitEncoder* enc) : enc_(enc) {}
  std::int64_t mlp_hidden() const override;

 private:
  VitEncoder* enc_;
};

class VitEncoder final : public sdk::Encoder {
 public:
  // Builds and initialises (spec §3.4) from torch's global generator. Throws std::invalid_argument on bad options.
  explicit VitEncoder(const VitEncoderOptions& opts);
  VitEncoder(const VitEncoder&) = delete;
  VitEncoder& operator=(const VitEncoder&) = delete;

  // encode(images [B, C, S, S], keep) -> [len(*keep)*B, K, D] (mask-major), or [B, N, D] when keep is null.
  at::Tensor encode(const at::Tensor& images, const std::vector<at::Tensor>* keep) override;
  // encode_explicit: the same with explicit-softmax attention (the reference's arithmetic; for tests).
  at::Tensor encode_explicit(const at::Tensor& images, const std::vector<at::Tensor>* keep);
  // attention_map(images, block) -> [B, heads, N, N] float32 of block (negative = from the end), no grad.
  at::Tensor attention_map(const at::Tensor& images, std::int64_t block);
  // last_layers(images, n) -> n tensors [B, N, D]: outputs of the last n blocks, the last one after `norm`.
  std::vector<at::Tensor> last_layers(const at::Tensor& images, std::int64_t n);

  std::int64_t embed_dim() const override { return opts_.embed_dim; }
  std::int64_t num_heads() const override { return opts_.num_heads; }
  std::int64_t depth() const override { return opts_.depth; }
  sdk::PatchGrid grid() const override { return opts_.grid(); }
  const void* capability(std::string_view id) const noexcept override;

  const VitEncoderOptions& options() const { return opts_; }  // resolved (no zeros)
  std::int64_t num_patches() const { return grid().count(); }

 private:
  // embed(images [B, C, S, S]) -> patch tokens + pos_embed [B, N, D]
  at::Tensor embed(const at::Tensor& images);
  at::Tensor run(const at::Tensor& images, const std::vector<at::Tensor>* keep, bool explicit_attention);

  VitEncoderOptions opts_;
  VitPatchEmbed patch_embed_{nullptr};
  at::Tensor pos_embed_;                  // [1, N, D], fixed sin-cos, requires_grad false
  torch::nn::ModuleList blocks_list_{nullptr};
  std::vector<VitBlock> blocks_;          // the same modules as blocks_list_, typed
  torch::nn::LayerNorm norm_{nullptr};
  VitAttentionMapsView attention_view_{this};
  VitLayerOutputsView layers_view_{this};
  VitBlockShapeView block_shape_view_{this};
};

}  // namespace ijepa::plugins::vit
