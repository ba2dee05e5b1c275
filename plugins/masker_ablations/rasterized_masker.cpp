#include "rasterized_masker.hpp"

#include <sstream>
#include <stdexcept>

#include <ATen/ATen.h>

#include "mask_util.hpp"

namespace ijepa::plugins::masker_ablations {

RasterizedMasker::RasterizedMasker(RasterizedOptions opts, const sdk::BuildContext& ctx)
    : opts_(opts), grid_(ctx.grid), seed_(ctx.seed) {
  check_grid("rasterized", grid_, 2, 2);
  const std::int64_t qh = grid_.h / 2, qw = grid_.w / 2;
  if (qh * qw <= opts_.min_keep) {
    std::ostringstream os;
    os << "key 'min_keep': " << opts_.min_keep << " is not below the quadrant size " << qh << "x" << qw << "="
       << qh * qw << " patches of the " << grid_.h << "x" << grid_.w << " grid";
    throw std::invalid_argument(os.str());
  }
  for (std::int64_t q = 0; q < 4; ++q) {
    const std::int64_t top = (q / 2) * (grid_.h - qh);   // 0 or H - floor(H/2): skips the middle row of an odd grid
    const std::int64_t left = (q % 2) * (grid_.w - qw);  // 0 or W - floor(W/2)
    auto& ids = quadrants_[static_cast<std::size_t>(q)];
    ids.reserve(static_cast<std::size_t>(qh * qw));
    for (std::int64_t r = top; r < top + qh; ++r) {
      for (std::int64_t c = left; c < left + qw; ++c) ids.push_back(r * grid_.w + c);
    }
  }
}

std::vector<std::int64_t> RasterizedMasker::context_quadrants(std::int64_t batch_size,
                                                              std::uint64_t batch_number) const {
  check_batch("rasterized", batch_size);
  std::vector<std::int64_t> out(static_cast<std::size_t>(batch_size), opts_.context_quadrant);
  if (opts_.context_quadrant >= 0) return out;
  at::Generator g = cpu_generator(sdk::position_seed(seed_, batch_number));
  for (auto& q : out) q = randint(g, 0, 4);
  return out;
}

sdk::MaskSet RasterizedMasker::sample(std::int64_t batch_size, std::uint64_t batch_number) {
  const std::vector<std::int64_t> cq = context_quadrants(batch_size, batch_number);
  const auto nb = static_cast<std::size_t>(batch_size);
  std::vector<std::vector<std::int64_t>> ctx(nb);
  std::array<std::vector<std::vector<std::int64_t>>, 3> tgt;
  for (auto& t : tgt) t.resize(nb);
  for (std::size_t b = 0; b < nb; ++b) {
    ctx[b] = quadrant(cq[b]);
    std::size_t i = 0;
    for (std::int64_t q = 0; q < 4; ++q) {
      if (q != cq[b]) tgt[i++][b] = quadrant(q);
    }
  }
  sdk::MaskSet out;
  out.context.push_back(stack_truncated(ctx));                 // [B, Q]
  for (const auto& t : tgt) out.target.push_back(stack_truncated(t));  // 3 x [B, Q]
  return out;
}

}  // namespace ijepa::plugins::masker_ablations
