#include "block_size.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace ijepa::plugins::masker_multiblock {

BlockSize block_size_from_draws(sdk::PatchGrid grid, std::pair<double, double> scale, std::pair<double, double> aspect,
                                double r_scale, double r_aspect, bool full_extent) {
  // Python: mask_scale = min_s + r*(max_s-min_s); max_keep = int(H*W*mask_scale) (truncation, value >= 0)
  const double mask_scale = scale.first + r_scale * (scale.second - scale.first);
  const double max_keep = std::trunc(static_cast<double>(grid.h * grid.w) * mask_scale);
  const double ar = aspect.first + r_aspect * (aspect.second - aspect.first);
  // Python's round() is round-half-even: std::nearbyint in the default rounding mode.
  BlockSize b;
  b.h = static_cast<std::int64_t>(std::nearbyint(std::sqrt(max_keep * ar)));
  b.w = static_cast<std::int64_t>(std::nearbyint(std::sqrt(max_keep / ar)));
  const std::int64_t max_h = full_extent ? grid.h : grid.h - 1;
  const std::int64_t max_w = full_extent ? grid.w : grid.w - 1;
  b.h = std::max<std::int64_t>(std::min(b.h, max_h), 0);  // `while h >= H: h -= 1` (h never starts below 0)
  b.w = std::max<std::int64_t>(std::min(b.w, max_w), 0);
  return b;
}

std::vector<BlockSize> reachable_block_sizes(sdk::PatchGrid grid, std::pair<double, double> scale,
                                             std::pair<double, double> aspect, bool independent, bool full_extent) {
  constexpr double kLargestDraw = 1.0 - 1.0 / 16777216.0;  // the largest float torch.rand returns: 1 - 2^-24
  std::set<BlockSize> seen;
  if (!independent) {
    constexpr std::int64_t n = 1 << 17;
    for (std::int64_t k = 0; k < n; ++k) {
      const double r = static_cast<double>(k) / static_cast<double>(n);
      seen.insert(block_size_from_draws(grid, scale, aspect, r, r, full_extent));
    }
    seen.insert(block_size_from_draws(grid, scale, aspect, kLargestDraw, kLargestDraw, full_extent));
  } else {
    constexpr std::int64_t n = 1 << 9;
    for (std::int64_t i = 0; i <= n; ++i) {
      const double rs = i == n ? kLargestDraw : static_cast<double>(i) / static_cast<double>(n);
      for (std::int64_t j = 0; j <= n; ++j) {
        const double ra = j == n ? kLargestDraw : static_cast<double>(j) / static_cast<double>(n);
        seen.insert(block_size_from_draws(grid, scale, aspect, rs, ra, full_extent));
      }
    }
  }
  return {seen.begin(), seen.end()};
}

}  // namespace ijepa::plugins::masker_multiblock
