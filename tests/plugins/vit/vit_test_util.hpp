#pragma once
// Helpers shared by the vit tests: small models, masks, named-parameter loading, max-abs-diff.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "vit_encoder.hpp"
#include "vit_predictor.hpp"

namespace ijepa::plugins::vit::test {

// A small encoder: 32 px, patch 8 (4x4 grid), D 64, 2 blocks, 4 heads.
inline VitEncoderOptions small_encoder_options() {
  VitEncoderOptions o;
  o.img_size = 32;
  o.patch_size = 8;
  o.embed_dim = 64;
  o.depth = 2;
  o.num_heads = 4;
  return o;
}

inline sdk::BuildContext predictor_context(const VitEncoder& enc) {
  sdk::BuildContext ctx;
  ctx.image_size = enc.options().img_size;
  ctx.patch_size = enc.options().patch_size;
  ctx.grid = enc.grid();
  ctx.encoder_dim = enc.embed_dim();
  ctx.encoder_heads = enc.num_heads();
  ctx.encoder_depth = enc.depth();
  return ctx;
}

// random_masks(count, batch, n, k): count int64 tensors [batch, k] of distinct sorted patch ids < n.
inline std::vector<at::Tensor> random_masks(int count, std::int64_t batch, std::int64_t n, std::int64_t k) {
  std::vector<at::Tensor> out;
  for (int c = 0; c < count; ++c) {
    std::vector<at::Tensor> rows;
    for (std::int64_t b = 0; b < batch; ++b) rows.push_back(std::get<0>(at::randperm(n).narrow(0, 0, k).sort()));
    out.push_back(at::stack(rows).to(at::kLong));
  }
  return out;
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) throw std::invalid_argument("max_abs_diff: shapes differ");
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// load_named(module, tensors, prefix): copies tensors[prefix + name] into every named parameter and buffer;
// throws on a missing or mis-shaped key, or an unused key under prefix.
inline void load_named(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                       const std::string& prefix) {
  at::NoGradGuard no_grad;
  std::map<std::string, bool> used;
  auto copy = [&](const std::string& name, at::Tensor& dst) {
    auto it = tensors.find(prefix + name);
    if (it == tensors.end()) throw std::runtime_error("missing key " + prefix + name);
    if (it->second.sizes() != dst.sizes()) throw std::runtime_error("shape mismatch for " + prefix + name);
    dst.copy_(it->second);
    used[prefix + name] = true;
  };
  for (auto& p : module.named_parameters(/*recurse=*/true)) copy(p.key(), p.value());
  for (auto& b : module.named_buffers(/*recurse=*/true)) copy(b.key(), b.value());
  for (const auto& kv : tensors) {
    if (kv.first.rfind(prefix, 0) == 0 && !used.count(kv.first))
      throw std::runtime_error("unused key " + kv.first);
  }
}

}  // namespace ijepa::plugins::vit::test
