#pragma once
// Mask helpers shared by host and plugins (spec §4); inline, so they add nothing to the ABI.
#include <vector>

#include <ATen/ATen.h>

namespace ijepa::sdk {

// apply_masks(x [B, N, D], masks m x [B, K]) -> [m*B, K, D], mask-major (rows 0..B-1 are mask 0).
inline at::Tensor apply_masks(const at::Tensor& x, const std::vector<at::Tensor>& masks) {
  std::vector<at::Tensor> parts;
  parts.reserve(masks.size());
  for (const auto& m : masks) {
    parts.push_back(x.gather(1, m.unsqueeze(-1).expand({-1, -1, x.size(-1)})));
  }
  return parts.size() == 1 ? parts.front() : at::cat(parts, 0);
}

// repeat_interleave_batch(x [n*B, ...], B, r) -> [n*r*B, ...]: each chunk of B rows repeated r times in place.
inline at::Tensor repeat_interleave_batch(const at::Tensor& x, std::int64_t batch, std::int64_t repeat) {
  if (repeat == 1) return x;
  const std::int64_t n = x.size(0) / batch;
  std::vector<at::Tensor> parts;
  parts.reserve(static_cast<std::size_t>(n * repeat));
  for (std::int64_t i = 0; i < n; ++i) {
    at::Tensor chunk = x.narrow(0, i * batch, batch);
    for (std::int64_t r = 0; r < repeat; ++r) parts.push_back(chunk);
  }
  return at::cat(parts, 0);
}

}  // namespace ijepa::sdk
