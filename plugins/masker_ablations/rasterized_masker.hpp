#pragma once
// RasterizedMasker (`rasterized`): paper Table 6 "rasterized": the patch grid is split into four quadrants; one
// quadrant is the context and the other three are the three target masks.
//
// Quadrants are floor(H/2) x floor(W/2) patches: rows [0, H/2) on top and [H - H/2, H) below, columns
// [0, W/2) left and [W - W/2, W) right. On an odd grid the middle row and/or column belongs to no quadrant (it is
// in no mask), so all four quadrants have the same size and K is equal across the batch without truncation.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ablation_options.hpp"
#include "ijepa/sdk/plugin.hpp"

namespace ijepa::plugins::masker_ablations {

// [thread-safe: sample() keeps all state on the stack]
class RasterizedMasker final : public sdk::Masker {
 public:
  // Throws std::invalid_argument (one line naming the key) when a quadrant keeps <= min_keep patches.
  RasterizedMasker(RasterizedOptions opts, const sdk::BuildContext& ctx);

  // sample(B, batch_number) -> context: 1 x [B, Q], target: 3 x [B, Q], Q = floor(H/2) * floor(W/2) (int64,
  // ascending per row). Target mask i of an image is its i-th non-context quadrant in the order 0 TL, 1 TR, 2 BL, 3 BR.
  sdk::MaskSet sample(std::int64_t batch_size, std::uint64_t batch_number) override;
  // No capability: nothing ever falls back (quadrants are disjoint).
  const void* capability(std::string_view) const noexcept override { return nullptr; }

  // The raster ids of quadrant q (0 TL, 1 TR, 2 BL, 3 BR), ascending.
  const std::vector<std::int64_t>& quadrant(std::int64_t q) const { return quadrants_[static_cast<std::size_t>(q)]; }
  // The context quadrant of each image of batch `batch_number` (the option, or one randint(0, 4) per image).
  std::vector<std::int64_t> context_quadrants(std::int64_t batch_size, std::uint64_t batch_number) const;
  const RasterizedOptions& options() const { return opts_; }

 private:
  RasterizedOptions opts_;
  sdk::PatchGrid grid_;
  std::uint64_t seed_ = 0;
  std::array<std::vector<std::int64_t>, 4> quadrants_;
};

}  // namespace ijepa::plugins::masker_ablations
