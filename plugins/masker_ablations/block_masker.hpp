#pragma once
// BlockMasker (`block`): paper Table 6 "Block(0.6)": one large target block per image, the context is its
// complement. The block size is drawn once per batch (as the multiblock sizes, ijepa-spec.md 2.2-2.3), the
// position per image.
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "ablation_options.hpp"
#include "ijepa/sdk/plugin.hpp"

namespace ijepa::plugins::masker_ablations {

struct BlockShape {
  std::int64_t h = 0;  // rows
  std::int64_t w = 0;  // columns
  std::int64_t area() const { return h * w; }
  bool operator==(const BlockShape& o) const { return h == o.h && w == o.w; }
  bool operator<(const BlockShape& o) const { return h != o.h ? h < o.h : w < o.w; }
};

// The block of one uniform draw r in [0, 1): max_keep = floor(N * scale), a = lo + r * (hi - lo),
// h = round_half_even(sqrt(max_keep * a)), w = round_half_even(sqrt(max_keep / a)), clamped to h <= H, w <= W.
BlockShape block_shape_from_draw(sdk::PatchGrid grid, double scale, std::pair<double, double> aspect, double r);
// Every shape reachable from a torch.rand draw (swept over 2^17 + 1 points of [0, 1)), sorted, no duplicates.
std::vector<BlockShape> reachable_block_shapes(sdk::PatchGrid grid, double scale, std::pair<double, double> aspect);

// [thread-safe: sample() keeps all state on the stack]
class BlockMasker final : public sdk::Masker {
 public:
  // Throws std::invalid_argument (one line naming the key) when some reachable block or its complement keeps
  // <= min_keep patches.
  BlockMasker(BlockOptions opts, const sdk::BuildContext& ctx);

  // sample(B, batch_number) -> context: 1 x [B, N - h*w], target: 1 x [B, h*w] (int64, ascending per row)
  sdk::MaskSet sample(std::int64_t batch_size, std::uint64_t batch_number) override;
  // No capability: nothing ever falls back (the context is the exact complement of the block).
  const void* capability(std::string_view) const noexcept override { return nullptr; }

  // The batch's block shape: Generator().manual_seed(batch_number), one rand(1) draw.
  BlockShape block_shape(std::uint64_t batch_number) const;
  const BlockOptions& options() const { return opts_; }

 private:
  BlockOptions opts_;
  sdk::PatchGrid grid_;
  std::uint64_t seed_ = 0;
};

}  // namespace ijepa::plugins::masker_ablations
