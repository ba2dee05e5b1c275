#include "vit_patch_embed.hpp"

#include <ATen/ATen.h>

namespace ijepa::plugins::vit {

VitPatchEmbedImpl::VitPatchEmbedImpl(std::int64_t in_chans, std::int64_t dim, std::int64_t patch_size) {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_chans, dim, patch_size).stride(patch_size).bias(true)));
}

at::Tensor VitPatchEmbedImpl::forward(const at::Tensor& images) {
  return proj->forward(images).flatten(2).transpose(1, 2);
}

}  // namespace ijepa::plugins::vit
