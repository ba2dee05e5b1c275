#pragma once
// The paper's only augmentation (RandomResizedCrop) and the evaluation transform, on uint8 HWC images.
#include <cstdint>

#include <ATen/core/Tensor.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/rng.hpp"

namespace ijepa::host {

// torchvision RandomResizedCrop.get_params: 10 tries of area ~ U(scale)*area and log-uniform ratio, else a
// centre crop clamped to the ratio range.
CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, double scale_lo, double scale_hi,
                                double ratio_lo, double ratio_hi, SampleRng& rng);

// crop_resize_normalize(img uint8 [H,W,C], box, size, flip) -> float32 [3, size, size]: bilinear resize
// (align_corners = false), grey -> RGB, ImageNet normalisation.
at::Tensor crop_resize_normalize(const at::Tensor& img, const CropBox& box, std::int64_t size, bool flip);
// The same, written into out (float32 [3, size, size], e.g. a slot of a batch tensor) without temporaries.
void crop_resize_normalize_into(const at::Tensor& img, const CropBox& box, std::int64_t size, bool flip,
                                at::Tensor out);

// eval_resize_size(size) -> round(size * 256 / 224): the shorter side before the evaluation centre crop.
std::int64_t eval_resize_size(std::int64_t size);

// eval_transform(img, size) -> [3, size, size]: the official evaluation transform, torchvision
// Resize(round(size * 256 / 224)) (shorter side, bilinear, antialiased when shrinking) then CenterCrop(size), then
// ImageNet normalisation.
at::Tensor eval_transform(const at::Tensor& img, std::int64_t size);

}  // namespace ijepa::host
