#include "vit_encoder.hpp"

#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "ijepa/sdk/tensor_ops.hpp"
#include "sincos.hpp"
#include "vit_init.hpp"
#include "vit_linear.hpp"

namespace ijepa::plugins::vit {

namespace {
std::string shape_str(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}
}  // namespace

at::Tensor VitAttentionMapsView::attention(const at::Tensor& images, std::int64_t block) const {
  return enc_->attention_map(images, block);
}

std::vector<at::Tensor> VitLayerOutputsView::last_layers(const at::Tensor& images, std::int64_t n) const {
  return enc_->last_layers(images, n);
}

VitEncoder::VitEncoder(const VitEncoderOptions& opts) : opts_(opts.resolved()) {
  opts_.validate();
  const std::int64_t d = opts_.embed_dim;
  const sdk::PatchGrid g = opts_.grid();
  patch_embed_ = register_module("patch_embed", VitPatchEmbed(opts_.in_chans, d, opts_.patch_size));
  pos_embed_ = register_parameter("pos_embed", sincos_pos_embed_2d(d, g.h, g.w).unsqueeze(0),
                                  /*requires_grad=*/false);
  blocks_list_ = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < opts_.depth; ++i) {
    blocks_.emplace_back(d, opts_.num_heads, opts_.mlp_ratio);
    blocks_.back()->set_kernels(parse_attention_kernel(opts_.attention), parse_linear_kernel(opts_.linear));
    blocks_list_->push_back(blocks_.back());
  }
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(kLayerNormEps)));
  init_vit_weights(*this);
}

at::Tensor VitEncoder::embed(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != opts_.in_chans || images.size(2) != opts_.img_size ||
      images.size(3) != opts_.img_size)
    throw std::invalid_argument("vit encoder expects images [B, " + std::to_string(opts_.in_chans) + ", " +
                                std::to_string(opts_.img_size) + ", " + std::to_string(opts_.img_size) +
                                "], got " + shape_str(images));
  // The conv's [B, D, h, w] output transposed to [B, N, D] is not contiguous, and the residual adds keep that
  // layout: every layer norm of an unmasked pass would copy its input (25 copies per ViT-Tiny target pass). One
  // copy here instead.
  return (patch_embed_->forward(images) + pos_embed_).contiguous();
}

at::Tensor VitEncoder::run(const at::Tensor& images, const std::vector<at::Tensor>* keep, bool explicit_attention) {
  at::Tensor x = embed(images);
  if (keep != nullptr) {
    if (keep->empty()) throw std::invalid_argument("vit encoder: keep is an empty list of masks");
    x = sdk::apply_masks(x, *keep);
  }
  for (auto& blk : blocks_) x = explicit_attention ? blk->forward_explicit(x) : blk->forward(x);
  return norm_->forward(x);
}

at::Tensor VitEncoder::encode(const at::Tensor& images, const std::vector<at::Tensor>* keep) {
  return run(images, keep, /*explicit_attention=*/false);
}

at::Tensor VitEncoder::encode_explicit(const at::Tensor& images, const std::vector<at::Tensor>* keep) {
  return run(images, keep, /*explicit_attention=*/true);
}

at::Tensor VitEncoder::attention_map(const at::Tensor& images, std::int64_t block) {
  const std::int64_t depth = opts_.depth;
  const std::int64_t b = block < 0 ? block + depth : block;
  if (b < 0 || b >= depth)
    throw std::out_of_range("vit encoder: block " + std::to_string(block) + " out of range for depth " +
                            std::to_string(depth));
  at::NoGradGuard no_grad;
  at::Tensor x = embed(images);
  for (std::int64_t i = 0; i < b; ++i) x = blocks_[static_cast<std::size_t>(i)]->forward(x);
  return blocks_[static_cast<std::size_t>(b)]->attention(x);
}

std::vector<at::Tensor> VitEncoder::last_layers(const at::Tensor& images, std::int64_t n) {
  const std::int64_t depth = opts_.depth;
  if (n < 1 || n > depth)
    throw std::out_of_range("vit encoder: last_layers n = " + std::to_string(n) + " must be in [1, " +
                            std::to_string(depth) + "]");
  std::vector<at::Tensor> out;
  out.reserve(static_cast<std::size_t>(n));
  at::Tensor x = embed(images);
  for (std::int64_t i = 0; i < depth; ++i) {
    x = blocks_[static_cast<std::size_t>(i)]->forward(x);
    if (i >= depth - n) out.push_back(i == depth - 1 ? norm_->forward(x) : x);
  }
  return out;
}

std::int64_t VitBlockShapeView::mlp_hidden() const {
  return vit::mlp_hidden(enc_->options().embed_dim, enc_->options().mlp_ratio);
}

const void* VitEncoder::capability(std::string_view id) const noexcept {
  if (id == sdk::kAttentionMapsId) return static_cast<const sdk::AttentionMaps*>(&attention_view_);
  if (id == sdk::kLayerOutputsId) return static_cast<const sdk::LayerOutputs*>(&layers_view_);
  if (id == sdk::kBlockShapeId) return static_cast<const sdk::BlockShape*>(&block_shape_view_);
  return nullptr;
}

}  // namespace ijepa::plugins::vit
