#pragma once
// VitBlock: pre-norm transformer block; keys norm1.*, attn.*, norm2.*, mlp.* (reference `Block`).
#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "vit_attention.hpp"
#include "vit_mlp.hpp"

namespace ijepa::plugins::vit {

inline constexpr double kLayerNormEps = 1e-6;

// MLP hidden width as the reference computes it: int(dim * mlp_ratio).
std::int64_t mlp_hidden(std::int64_t dim, double mlp_ratio);

class VitBlockImpl : public torch::nn::Module {
 public:
  VitBlockImpl(std::int64_t dim, std::int64_t num_heads, double mlp_ratio);
  // forward(x [B, N, D]) -> [B, N, D]: x + attn(norm1(x)), then + mlp(norm2(x)).
  at::Tensor forward(const at::Tensor& x);
  // forward_from(x [B, N, D], first) -> [B, N - first, D]: rows first.. of forward(x), computing after the
  // attention's keys and values only those rows (the same numbers; for a last block whose first rows are dropped).
  at::Tensor forward_from(const at::Tensor& x, std::int64_t first);
  // forward_explicit(x [B, N, D]) -> [B, N, D], with explicit-softmax attention (reference path).
  at::Tensor forward_explicit(const at::Tensor& x);
  // attention(x [B, N, D]) -> [B, heads, N, N] float32: this block's softmax attention.
  at::Tensor attention(const at::Tensor& x);
  // The kernels of the block: its attention's (config key "attention") and its linear layers' ("linear").
  void set_kernels(AttentionKernel attention, sdk::LinearKernel linear) {
    attn->set_kernel(attention);
    attn->set_linear_kernel(linear);
    mlp->set_linear_kernel(linear);
  }

  torch::nn::LayerNorm norm1{nullptr};
  VitAttention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  VitMlp mlp{nullptr};
};
TORCH_MODULE(VitBlock);

}  // namespace ijepa::plugins::vit
