#include "vit_block.hpp"

#include <ATen/ATen.h>

namespace ijepa::plugins::vit {

std::int64_t mlp_hidden(std::int64_t dim, double mlp_ratio) {
  return static_cast<std::int64_t>(static_cast<double>(dim) * mlp_ratio);
}

VitBlockImpl::VitBlockImpl(std::int64_t dim, std::int64_t num_heads, double mlp_ratio) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kLayerNormEps)));
  attn = register_module("attn", VitAttention(dim, num_heads, /*qkv_bias=*/true));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(kLayerNormEps)));
  mlp = register_module("mlp", VitMlp(dim, mlp_hidden(dim, mlp_ratio)));
}

at::Tensor VitBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = x + attn->forward(norm1->forward(x));
  return y + mlp->forward(norm2->forward(y));
}

at::Tensor VitBlockImpl::forward_from(const at::Tensor& x, std::int64_t first) {
  at::Tensor y = x.narrow(1, first, x.size(1) - first) + attn->forward_from(norm1->forward(x), first);
  return y + mlp->forward(norm2->forward(y));
}

at::Tensor VitBlockImpl::forward_explicit(const at::Tensor& x) {
  at::Tensor y = x + attn->forward_explicit(norm1->forward(x));
  return y + mlp->forward(norm2->forward(y));
}

at::Tensor VitBlockImpl::attention(const at::Tensor& x) { return attn->probabilities(norm1->forward(x)); }

}  // namespace ijepa::plugins::vit
