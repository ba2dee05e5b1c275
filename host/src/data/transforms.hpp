#pragma once
// The paper's only augmentation (RandomResizedCrop) and the evaluation transform, on uint8 HWC images.
#include <cstdint>

#include <ATen/core/Tensor.h>

#include "data/rng.hpp"

namespace ijepa::host {

struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision RandomResizedCrop.get_params: 10 tries of area ~ U(scale)*area and log-uniform ratio, else a
// centre crop clamped to the ratio range.
CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, double scale_lo, double scale_hi,
                                double ratio_lo, double ratio_hi, SampleRng& rng);

// crop_resize_normalize(img uint8 [H,W,C], box, size, flip) -> float32 [3, size, size]: bilinear resize
// (align_corners = false), grey -> RGB, ImageNet normalisation.
at::Tensor crop_resize_normalize(const at::Tensor& img, const CropBox& box, std::int64_t size, bool flip);

// eval_transform(img, size) -> [3, size, size]: centre crop of the largest square, resized to size, normalised.
at::Tensor eval_transform(const at::Tensor& img, std::int64_t size);

}  // namespace ijepa::host
