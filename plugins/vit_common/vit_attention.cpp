#include "vit_attention.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "vit_linear.hpp"

namespace ijepa::plugins::vit {

AttentionKernel parse_attention_kernel(const std::string& name) {
  if (name == "auto") return AttentionKernel::kAuto;
  if (name == "sdpa") return AttentionKernel::kSdpa;
  if (name == "explicit") return AttentionKernel::kExplicit;
  throw std::invalid_argument("key 'attention': must be \"auto\", \"sdpa\" or \"explicit\", got \"" + name + "\"");
}

VitAttentionImpl::VitAttentionImpl(std::int64_t dim, std::int64_t num_heads, bool qkv_bias)
    : num_heads_(num_heads), head_dim_(num_heads > 0 ? dim / num_heads : 0) {
  if (num_heads <= 0 || dim % num_heads != 0)
    throw std::invalid_argument("attention width " + std::to_string(dim) + " is not divisible by " +
                                std::to_string(num_heads) + " heads");
  scale_ = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(true)));
}

at::Tensor VitAttentionImpl::heads(const at::Tensor& x) {
  const auto b = x.size(0);
  const auto n = x.size(1);
  return linear(qkv, x, linear_kernel_).reshape({b, n, 3, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
}

at::Tensor VitAttentionImpl::merge(const at::Tensor& o) {
  const auto b = o.size(0);
  const auto n = o.size(2);
  return linear(proj, o.transpose(1, 2).reshape({b, n, num_heads_ * head_dim_}), linear_kernel_);
}

at::Tensor VitAttentionImpl::attend(const at::Tensor& x, std::int64_t first, bool explicit_softmax) {
  // unbind, not h[0], h[1], h[2]: its backward stacks the three gradients in one copy, where three selects would
  // each zero a [3, B, heads, N, head_dim] tensor and add into it (SelectBackward: 6 ms of fill_ and add_ per
  // ViT-Tiny/4 CPU step).
  const std::vector<at::Tensor> h = heads(x).unbind(0);
  at::Tensor q = h[0];
  if (first > 0) q = q.narrow(2, first, q.size(2) - first);
  if (!explicit_softmax) return merge(at::scaled_dot_product_attention(q, h[1], h[2]));
  const at::Tensor attn = (at::matmul(q, h[1].transpose(-2, -1)) * scale_).softmax(-1);
  return merge(at::matmul(attn, h[2]));
}

at::Tensor VitAttentionImpl::forward(const at::Tensor& x) { return attend(x, 0, explicit_for(x)); }

at::Tensor VitAttentionImpl::forward_from(const at::Tensor& x, std::int64_t first) {
  if (first < 0 || first >= x.size(1))
    throw std::invalid_argument("attention rows from " + std::to_string(first) + " of " + std::to_string(x.size(1)));
  return attend(x, first, explicit_for(x));
}

at::Tensor VitAttentionImpl::forward_fused(const at::Tensor& x) { return attend(x, 0, false); }

at::Tensor VitAttentionImpl::forward_explicit(const at::Tensor& x) { return attend(x, 0, true); }

at::Tensor VitAttentionImpl::probabilities(const at::Tensor& x) {
  const std::vector<at::Tensor> h = heads(x).to(at::kFloat).unbind(0);
  return (at::matmul(h[0], h[1].transpose(-2, -1)) * scale_).softmax(-1);
}

}  // namespace ijepa::plugins::vit
