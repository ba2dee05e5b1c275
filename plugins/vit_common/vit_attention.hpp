#pragma once
// VitAttention: multi-head self-attention; keys qkv.* (features laid out [q | k | v], head-contiguous) and proj.*.
#include <cstdint>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "ijepa/sdk/linear.hpp"

namespace ijepa::plugins::vit {

// The kernel of forward() / forward_from() (config key "attention" of the vit and vit_predictor plugins): kAuto
// picks the faster one for the input's device (at::scaled_dot_product_attention on CUDA, the explicit softmax
// elsewhere); kSdpa and kExplicit force one, to measure each against the other. All compute the same function.
enum class AttentionKernel { kAuto, kSdpa, kExplicit };
// "auto" | "sdpa" | "explicit"; throws std::invalid_argument (one line naming the key) otherwise.
AttentionKernel parse_attention_kernel(const std::string& name);

class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(std::int64_t dim, std::int64_t num_heads, bool qkv_bias = true);
  // forward(x [B, N, D]) -> [B, N, D], scale head_dim^-0.5, with kernel(): by default the faster kernel for x's
  // device: on CUDA the fused at::scaled_dot_product_attention (flash kernels), elsewhere the explicit
  // softmax(q k^T * scale) v (the CPU's fused kernel is slower at ViT shapes: docs/benchmarks.md).
  at::Tensor forward(const at::Tensor& x);
  void set_kernel(AttentionKernel k) { kernel_ = k; }
  AttentionKernel kernel() const { return kernel_; }
  // The kernel of the qkv and proj layers (config key "linear"; sdk::linear).
  void set_linear_kernel(sdk::LinearKernel k) { linear_kernel_ = k; }
  // forward_from(x [B, N, D], first) -> [B, N - first, D]: rows first.. of forward(x). Keys and values come from
  // all N tokens; only the queries of the kept rows are computed (a last block whose first rows are discarded).
  at::Tensor forward_from(const at::Tensor& x, std::int64_t first);
  // forward_fused(x [B, N, D]) -> [B, N, D], always at::scaled_dot_product_attention.
  at::Tensor forward_fused(const at::Tensor& x);
  // forward_explicit(x [B, N, D]) -> [B, N, D], always the reference's explicit softmax(q k^T * scale) v.
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
  // attend(x, first, explicit_softmax) -> [B, N - first, D]: the queries of rows first.. against all keys.
  at::Tensor attend(const at::Tensor& x, std::int64_t first, bool explicit_softmax);
  bool explicit_for(const at::Tensor& x) const {
    return kernel_ == AttentionKernel::kExplicit || (kernel_ == AttentionKernel::kAuto && !x.is_cuda());
  }

  std::int64_t num_heads_;
  std::int64_t head_dim_;
  double scale_;
  AttentionKernel kernel_ = AttentionKernel::kAuto;
  sdk::LinearKernel linear_kernel_ = sdk::LinearKernel::kAuto;
};
TORCH_MODULE(VitAttention);

}  // namespace ijepa::plugins::vit
