#pragma once
// MultiBlockMasker: the official I-JEPA multi-block MaskCollator (ijepa-spec.md section 2), faithful by default.
#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include <ATen/core/Generator.h>

#include "block_size.hpp"
#include "ijepa/sdk/plugin.hpp"
#include "multiblock_options.hpp"

namespace ijepa::plugins::masker_multiblock {

// [thread-safe: sample() keeps its state on the stack; the fallback counter is atomic]
class MultiBlockMasker final : public sdk::Masker, public sdk::MaskStats {
 public:
  // Throws std::invalid_argument (one line naming the key) for an empty grid or an infeasible min_keep.
  MultiBlockMasker(MultiBlockOptions opts, const sdk::BuildContext& ctx);

  // sample(B, batch_number) -> context: num_enc_masks x [B, K_enc], target: num_pred_masks x [B, K_pred] (int64)
  sdk::MaskSet sample(std::int64_t batch_size, std::uint64_t batch_number) override;
  const void* capability(std::string_view id) const noexcept override;
  std::int64_t fallbacks() const override { return fallbacks_.load(std::memory_order_relaxed); }

  // The batch's shared (target, context) block sizes: generator seeded with batch_number, two (or four) draws.
  std::pair<BlockSize, BlockSize> block_sizes(std::uint64_t batch_number) const;
  const MultiBlockOptions& options() const { return opts_; }
  sdk::PatchGrid grid() const { return grid_; }

 private:
  struct Block {
    std::vector<std::int64_t> ids;  // raster ids (row * W + col) kept, ascending
    std::int64_t top = 0, left = 0;  // block corner; the block spans size.h rows x size.w columns
    BlockSize size;
    bool fell_back = false;         // `tries` ended > 0
  };
  BlockSize draw_size(at::Generator& g, std::pair<double, double> scale, std::pair<double, double> aspect) const;
  // The reference `_sample_block_mask`: excluded = earlier target blocks whose area is not acceptable.
  Block sample_block(at::Generator& pos, BlockSize size, const std::vector<Block>* excluded) const;

  MultiBlockOptions opts_;
  sdk::PatchGrid grid_;
  std::uint64_t seed_ = 0;
  const sdk::HostServices* host_ = nullptr;
  std::atomic<std::int64_t> fallbacks_{0};
  std::atomic<bool> warned_{false};
};

}  // namespace ijepa::plugins::masker_multiblock
