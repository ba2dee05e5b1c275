#include "attentive_pooler.hpp"

#include <cmath>

#include <ATen/ATen.h>

namespace ijepa::plugins::eval_probes {

namespace {
double norm_cdf(double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; }
}  // namespace

void trunc_normal_(at::Tensor& t, double std, at::Generator& gen) {
  at::NoGradGuard no_grad;
  constexpr double a = -2.0, b = 2.0;
  const double lo = norm_cdf(a / std), hi = norm_cdf(b / std);
  t.uniform_(2.0 * lo - 1.0, 2.0 * hi - 1.0, gen);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

CrossAttentionImpl::CrossAttentionImpl(std::int64_t dim, std::int64_t num_heads)
    : num_heads_(num_heads), head_dim_(dim / num_heads) {
  q = register_module("q", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(true)));
  kv = register_module("kv", torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * dim).bias(true)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

at::Tensor CrossAttentionImpl::forward(const at::Tensor& qin, const at::Tensor& x) {
  const std::int64_t B = qin.size(0), n = qin.size(1), D = qin.size(2), N = x.size(1);
  const at::Tensor qh = q->forward(qin).reshape({B, n, num_heads_, head_dim_}).permute({0, 2, 1, 3});
  const at::Tensor kvh = kv->forward(x).reshape({B, N, 2, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  const at::Tensor k = kvh[0], v = kvh[1];  // [B, h, N, hd]
  const at::Tensor attn =
      at::softmax(at::matmul(qh, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim_)), -1);
  const at::Tensor o = at::matmul(attn, v).transpose(1, 2).reshape({B, n, D});
  return proj->forward(o);
}

PoolerMlpImpl::PoolerMlpImpl(std::int64_t dim, std::int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

at::Tensor PoolerMlpImpl::forward(const at::Tensor& x) { return fc2->forward(at::gelu(fc1->forward(x))); }

CrossAttentionBlockImpl::CrossAttentionBlockImpl(std::int64_t dim, std::int64_t num_heads) {
  const auto ln = torch::nn::LayerNormOptions({dim}).eps(kPoolerLayerNormEps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  xattn = register_module("xattn", CrossAttention(dim, num_heads));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", PoolerMlp(dim, static_cast<std::int64_t>(static_cast<double>(dim) * kPoolerMlpRatio)));
}

at::Tensor CrossAttentionBlockImpl::forward(const at::Tensor& q, const at::Tensor& x) {
  at::Tensor out = q + xattn->forward(q, norm1->forward(x));
  return out + mlp->forward(norm2->forward(out));
}

AttentivePoolerImpl::AttentivePoolerImpl(std::int64_t dim, std::int64_t num_heads) {
  query_tokens = register_parameter("query_tokens", at::zeros({1, 1, dim}));
  cross_attention_block = register_module("cross_attention_block", CrossAttentionBlock(dim, num_heads));
}

at::Tensor AttentivePoolerImpl::forward(const at::Tensor& x) {
  return cross_attention_block->forward(query_tokens.expand({x.size(0), -1, -1}), x);
}

AttentiveClassifierImpl::AttentiveClassifierImpl(std::int64_t dim, std::int64_t num_heads, std::int64_t num_classes,
                                                 at::Generator& gen) {
  pooler = register_module("pooler", AttentivePooler(dim, num_heads));
  linear = register_module("linear", torch::nn::Linear(dim, num_classes));
  at::NoGradGuard no_grad;
  // Fixed order (query first, then modules in registration order): the init depends on `gen` alone.
  trunc_normal_(pooler->query_tokens, kPoolerInitStd, gen);
  for (const auto& m : modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      trunc_normal_(lin->weight, kPoolerInitStd, gen);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
  const double rescale = std::sqrt(2.0);  // _rescale_blocks with layer_id 1: div by sqrt(2 * 1)
  pooler->cross_attention_block->xattn->proj->weight.div_(rescale);
  pooler->cross_attention_block->mlp->fc2->weight.div_(rescale);
}

at::Tensor AttentiveClassifierImpl::forward(const at::Tensor& x) {
  return linear->forward(pooler->forward(x).squeeze(1));
}

}  // namespace ijepa::plugins::eval_probes
