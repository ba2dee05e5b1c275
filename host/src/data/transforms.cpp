#include "ijepa/host/data/transforms.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

namespace ijepa::host {

CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, double scale_lo, double scale_hi,
                                double ratio_lo, double ratio_hi, SampleRng& rng) {
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(ratio_lo), log_hi = std::log(ratio_hi);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale_lo, scale_hi);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const auto w = static_cast<std::int64_t>(std::llround(std::sqrt(target_area * aspect)));
    const auto h = static_cast<std::int64_t>(std::llround(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const std::int64_t top = rng.integer(0, height - h);
      const std::int64_t left = rng.integer(0, width - w);
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < ratio_lo) {
    h = static_cast<std::int64_t>(std::llround(static_cast<double>(w) / ratio_lo));
  } else if (in_ratio > ratio_hi) {
    w = static_cast<std::int64_t>(std::llround(static_cast<double>(h) * ratio_hi));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

namespace {
const float kMean[3] = {0.485f, 0.456f, 0.406f};
const float kStd[3] = {0.229f, 0.224f, 0.225f};

at::Tensor normalize_chw(at::Tensor x) {  // float [C, S, S] in [0, 1] -> normalised RGB
  if (x.size(0) == 1) x = x.expand({3, x.size(1), x.size(2)});
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor mean = at::from_blob(const_cast<float*>(kMean), {3, 1, 1}, opts);
  const at::Tensor std = at::from_blob(const_cast<float*>(kStd), {3, 1, 1}, opts);
  return ((x - mean) / std).contiguous();
}
}  // namespace

at::Tensor crop_resize_normalize(const at::Tensor& img, const CropBox& box, std::int64_t size, bool flip) {
  at::Tensor out = at::empty({3, size, size}, at::kFloat);
  crop_resize_normalize_into(img, box, size, flip, out);
  return out;
}

void crop_resize_normalize_into(const at::Tensor& img, const CropBox& box, std::int64_t size, bool flip,
                                at::Tensor out) {
  // Resample in uint8 (channels-last view of the HWC crop, the vectorised path; values round to uint8 as PIL's
  // do), then convert and normalise in one pass straight into the batch slot.
  at::Tensor crop = img.narrow(0, box.top, box.height).narrow(1, box.left, box.width);  // [h, w, C]
  at::Tensor x = crop.permute({2, 0, 1}).unsqueeze(0);                                  // [1, C, h, w] uint8
  if (box.height > size || box.width > size) {
    // Downscaling: anti-aliased bilinear, as PIL's resize in the official (torchvision on PIL) pipeline.
    x = at::_upsample_bilinear2d_aa(x, {size, size}, /*align_corners=*/false);
  } else if (box.height != size || box.width != size) {
    x = at::upsample_bilinear2d(x, {size, size}, /*align_corners=*/false);
  }
  x = x.squeeze(0);
  if (flip) x = x.flip({2});
  if (x.size(0) == 1) x = x.expand({3, size, size});
  static const at::Tensor scale =
      at::tensor({1.0f / (255.0f * kStd[0]), 1.0f / (255.0f * kStd[1]), 1.0f / (255.0f * kStd[2])}).view({3, 1, 1});
  static const at::Tensor shift =
      at::tensor({-kMean[0] / kStd[0], -kMean[1] / kStd[1], -kMean[2] / kStd[2]}).view({3, 1, 1});
  out.copy_(x);
  out.mul_(scale).add_(shift);
}

std::int64_t eval_resize_size(std::int64_t size) {
  return static_cast<std::int64_t>(std::nearbyint(static_cast<double>(size) * 256.0 / 224.0));
}

at::Tensor eval_transform(const at::Tensor& img, std::int64_t size) {
  const std::int64_t h = img.size(0), w = img.size(1);
  if (h < 1 || w < 1) throw DataError("eval_transform: empty image");
  // torchvision Resize(int): the shorter side becomes r, the longer int(r * long / short).
  const std::int64_t r = eval_resize_size(size);
  std::int64_t nh = r, nw = r;
  if (h < w) {
    nw = static_cast<std::int64_t>(static_cast<double>(r) * static_cast<double>(w) / static_cast<double>(h));
  } else if (w < h) {
    nh = static_cast<std::int64_t>(static_cast<double>(r) * static_cast<double>(h) / static_cast<double>(w));
  }
  at::Tensor x = img.permute({2, 0, 1}).to(at::kFloat).div_(255.0f).unsqueeze(0);  // [1, C, h, w]
  if (nh < h || nw < w) {
    x = at::_upsample_bilinear2d_aa(x, {nh, nw}, /*align_corners=*/false);
  } else if (nh != h || nw != w) {
    x = at::upsample_bilinear2d(x, {nh, nw}, /*align_corners=*/false);
  }
  // CenterCrop(size): offsets int(round((n - size) / 2)).
  const std::int64_t top = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(nh - size) / 2.0));
  const std::int64_t left = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(nw - size) / 2.0));
  x = x.squeeze(0).narrow(1, top, size).narrow(2, left, size);
  return normalize_chw(x);
}

}  // namespace ijepa::host
