#pragma once
// VitPatchEmbed: Conv2d(in_chans, D, kernel p, stride p); key proj.* (reference `PatchEmbed`).
#include <cstdint>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace ijepa::plugins::vit {

class VitPatchEmbedImpl : public torch::nn::Module {
 public:
  VitPatchEmbedImpl(std::int64_t in_chans, std::int64_t dim, std::int64_t patch_size);
  // forward(images [B, C, S, S]) -> [B, N, D], token n = row * W + col.
  at::Tensor forward(const at::Tensor& images);

  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(VitPatchEmbed);

}  // namespace ijepa::plugins::vit
