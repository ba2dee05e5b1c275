#pragma once
// VitAttention: multi-head self-attention; keys qkv.* (features laid out [q | k | v], head-contiguous) and proj.*.
#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace ijepa::plugins::vit {

class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(std::int64_t dim, std::int64_t num_heads, bool qkv_bias = true);
  // forward(x [B, N, D]) -> [B, N, D], fused at::scaled_dot_product_attention (default scale head_dim^-0.5).
  at::Tensor forward(const at::Tensor& x);
  // forward_explicit(x [B, N, D]) -> [B, N, D], the reference's explicit softmax(q k^T * scale) v.
  at::Tensor forward_explicit(const at::Tensor& x);
  // probabilities(x [B, N, D]) -> [B, heads, N, N] float32 softmax attention (rows = queries).
  at::Tensor probabilities(const at::Tensor& x);

  std::int64_t num_heads() const { return num_heads_; }
  std::int64_t head_dim() const { return head_dim_; }

  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};

 private:
  // heads(x [B, N, D]) -> [3, B, heads, N, head_dim]
  at::Tensor heads(const at::Tensor& x);
  // merge(o [B, heads, N, head_dim]) -> proj([B, N, D])
  at::Tensor merge(const at::Tensor& o);

  std::int64_t num_heads_;
  std::int64_t head_dim_;
  double scale_;
};
TORCH_MODULE(VitAttention);

}  // namespace ijepa::plugins::vit
