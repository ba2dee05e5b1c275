#pragma once
// Block size from the batch's uniform draws (ijepa-spec.md 2.3) and the sweep of every reachable size.
#include <cstdint>
#include <utility>
#include <vector>

#include "ijepa/sdk/types.hpp"

namespace ijepa::plugins::masker_multiblock {

struct BlockSize {
  std::int64_t h = 0;  // rows
  std::int64_t w = 0;  // columns
  std::int64_t area() const { return h * w; }
  bool operator==(const BlockSize& o) const { return h == o.h && w == o.w; }
  bool operator<(const BlockSize& o) const { return h != o.h ? h < o.h : w < o.w; }
};

// The reference `_sample_block_size` given its draws: r_scale picks the area, r_aspect the aspect ratio
// (the same value unless independent_scale_aspect). full_extent=false clamps h <= H-1, w <= W-1 (faithful);
// true clamps h <= H, w <= W (fixed).
BlockSize block_size_from_draws(sdk::PatchGrid grid, std::pair<double, double> scale, std::pair<double, double> aspect,
                                double r_scale, double r_aspect, bool full_extent);

// Every block size reachable from torch.rand draws (multiples of 2^-24 in [0, 1)), by sweeping the draw(s):
// 2^17 + 1 points of one shared draw, or a 2^9 x 2^9 grid (+ the largest draw) of two independent draws.
// Sorted by (h, w), without duplicates.
std::vector<BlockSize> reachable_block_sizes(sdk::PatchGrid grid, std::pair<double, double> scale,
                                             std::pair<double, double> aspect, bool independent, bool full_extent);

}  // namespace ijepa::plugins::masker_multiblock
