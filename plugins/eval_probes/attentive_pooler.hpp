#pragma once
// The V-JEPA attentive classifier (facebookresearch/jepa src/models/attentive_pooler.py, spec §10): one learned
// query cross-attends to the layer-normed tokens, then an MLP, then a linear head. Parameter names follow the
// reference: pooler.query_tokens, pooler.cross_attention_block.{norm1,xattn.{q,kv,proj},norm2,mlp.{fc1,fc2}},
// linear.
#include <cstdint>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace ijepa::plugins::eval_probes {

inline constexpr double kPoolerInitStd = 0.02;
inline constexpr double kPoolerLayerNormEps = 1e-5;  // nn.LayerNorm default, as the reference
inline constexpr double kPoolerMlpRatio = 4.0;

// trunc_normal_(t, std, gen): truncated normal on the absolute interval [-2, 2] (the reference's), in place,
// drawn from `gen` only.
void trunc_normal_(at::Tensor& t, double std, at::Generator& gen);

class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(std::int64_t dim, std::int64_t num_heads);
  // forward(q [B, n, D], x [B, N, D]) -> proj(softmax(q' k^T / sqrt(head_dim)) v) [B, n, D], q' = q_lin(q),
  // (k, v) = kv_lin(x).
  at::Tensor forward(const at::Tensor& q, const at::Tensor& x);

  torch::nn::Linear q{nullptr};
  torch::nn::Linear kv{nullptr};
  torch::nn::Linear proj{nullptr};

 private:
  std::int64_t num_heads_;
  std::int64_t head_dim_;
};
TORCH_MODULE(CrossAttention);

class PoolerMlpImpl : public torch::nn::Module {
 public:
  PoolerMlpImpl(std::int64_t dim, std::int64_t hidden);
  at::Tensor forward(const at::Tensor& x);  // fc2(gelu_exact(fc1(x)))

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
};
TORCH_MODULE(PoolerMlp);

class CrossAttentionBlockImpl : public torch::nn::Module {
 public:
  CrossAttentionBlockImpl(std::int64_t dim, std::int64_t num_heads);
  // forward(q, x) -> q + xattn(q, norm1(x)), then + mlp(norm2(.))
  at::Tensor forward(const at::Tensor& q, const at::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr};
  CrossAttention xattn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  PoolerMlp mlp{nullptr};
};
TORCH_MODULE(CrossAttentionBlock);

class AttentivePoolerImpl : public torch::nn::Module {
 public:
  AttentivePoolerImpl(std::int64_t dim, std::int64_t num_heads);
  at::Tensor forward(const at::Tensor& x);  // x [B, N, D] -> [B, 1, D]

  at::Tensor query_tokens;  // [1, 1, D]
  CrossAttentionBlock cross_attention_block{nullptr};
};
TORCH_MODULE(AttentivePooler);

class AttentiveClassifierImpl : public torch::nn::Module {
 public:
  // Initialised from `gen` only: query and every Linear weight trunc-normal(0.02), biases 0, LayerNorms (1, 0),
  // then xattn.proj.weight and mlp.fc2.weight divided by sqrt(2) (the reference's layer-1 rescale).
  AttentiveClassifierImpl(std::int64_t dim, std::int64_t num_heads, std::int64_t num_classes, at::Generator& gen);
  at::Tensor forward(const at::Tensor& x);  // x [B, N, D] -> logits [B, C]

  AttentivePooler pooler{nullptr};
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(AttentiveClassifier);

}  // namespace ijepa::plugins::eval_probes
