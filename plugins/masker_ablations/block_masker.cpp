#include "block_masker.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>

#include <ATen/ATen.h>

#include "mask_util.hpp"

namespace ijepa::plugins::masker_ablations {

BlockShape block_shape_from_draw(sdk::PatchGrid grid, double scale, std::pair<double, double> aspect, double r) {
  const double max_keep = std::floor(static_cast<double>(grid.count()) * scale);
  const double a = aspect.first + r * (aspect.second - aspect.first);
  BlockShape s;
  s.h = static_cast<std::int64_t>(std::nearbyint(std::sqrt(max_keep * a)));  // banker's rounding, as Python's round
  s.w = static_cast<std::int64_t>(std::nearbyint(std::sqrt(max_keep / a)));
  s.h = std::min(s.h, grid.h);
  s.w = std::min(s.w, grid.w);
  return s;
}

std::vector<BlockShape> reachable_block_shapes(sdk::PatchGrid grid, double scale, std::pair<double, double> aspect) {
  constexpr std::int64_t kPoints = std::int64_t{1} << 17;
  std::set<BlockShape> shapes;
  for (std::int64_t i = 0; i < kPoints; ++i) {
    shapes.insert(block_shape_from_draw(grid, scale, aspect, static_cast<double>(i) / static_cast<double>(kPoints)));
  }
  shapes.insert(block_shape_from_draw(grid, scale, aspect, 1.0 - std::ldexp(1.0, -24)));  // the largest float32 draw
  return {shapes.begin(), shapes.end()};
}

BlockMasker::BlockMasker(BlockOptions opts, const sdk::BuildContext& ctx)
    : opts_(opts), grid_(ctx.grid), seed_(ctx.seed) {
  check_grid("block", grid_, 1, 1);
  const std::int64_t n = grid_.count();
  for (const BlockShape& s : reachable_block_shapes(grid_, opts_.scale, opts_.aspect_ratio)) {
    const std::int64_t complement = n - s.area();
    if (s.area() > opts_.min_keep && complement > opts_.min_keep) continue;
    std::ostringstream os;
    os << "key 'min_keep': " << opts_.min_keep << " is not below the ";
    if (s.area() <= opts_.min_keep) {
      os << "target block " << s.h << "x" << s.w << "=" << s.area() << " patches";
    } else {
      os << "context of " << complement << " patches (complement of the target block " << s.h << "x" << s.w << ")";
    }
    os << " reachable on the " << grid_.h << "x" << grid_.w << " grid (scale " << opts_.scale << ", aspect_ratio ["
       << opts_.aspect_ratio.first << ", " << opts_.aspect_ratio.second << "])";
    throw std::invalid_argument(os.str());
  }
}

BlockShape BlockMasker::block_shape(std::uint64_t batch_number) const {
  at::Generator g = cpu_generator(batch_number);
  return block_shape_from_draw(grid_, opts_.scale, opts_.aspect_ratio, rand_unit(g));
}

sdk::MaskSet BlockMasker::sample(std::int64_t batch_size, std::uint64_t batch_number) {
  check_batch("block", batch_size);
  const BlockShape s = block_shape(batch_number);
  at::Generator pos = cpu_generator(sdk::position_seed(seed_, batch_number));
  const auto nb = static_cast<std::size_t>(batch_size);
  std::vector<std::vector<std::int64_t>> tgt(nb), ctx(nb);
  for (std::size_t b = 0; b < nb; ++b) {
    // Any position that keeps the block inside the grid, last row and column included.
    const std::int64_t top = randint(pos, 0, grid_.h - s.h + 1);
    const std::int64_t left = randint(pos, 0, grid_.w - s.w + 1);
    tgt[b].reserve(static_cast<std::size_t>(s.area()));
    ctx[b].reserve(static_cast<std::size_t>(grid_.count() - s.area()));
    for (std::int64_t r = 0; r < grid_.h; ++r) {
      for (std::int64_t c = 0; c < grid_.w; ++c) {
        const bool in = r >= top && r < top + s.h && c >= left && c < left + s.w;
        (in ? tgt[b] : ctx[b]).push_back(r * grid_.w + c);
      }
    }
  }
  sdk::MaskSet out;
  // The shape is shared by the batch, so every row already has the batch minimum (the official truncation).
  out.target.push_back(stack_truncated(tgt));   // [B, h*w]
  out.context.push_back(stack_truncated(ctx));  // [B, N - h*w]
  return out;
}

}  // namespace ijepa::plugins::masker_ablations
