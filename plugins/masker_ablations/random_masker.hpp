#pragma once
// RandomMasker (`random`): paper Table 6 "Random(0.6)": per image, a uniformly random subset of round(ratio * N)
// patches is the one target mask and its complement is the context.
#include <cstdint>
#include <string_view>

#include "ablation_options.hpp"
#include "ijepa/sdk/plugin.hpp"

namespace ijepa::plugins::masker_ablations {

// [thread-safe: sample() keeps all state on the stack]
class RandomMasker final : public sdk::Masker {
 public:
  // Throws std::invalid_argument (one line naming the key) when a mask would keep <= min_keep patches.
  RandomMasker(RandomOptions opts, const sdk::BuildContext& ctx);

  // sample(B, batch_number) -> context: 1 x [B, N - K_tgt], target: 1 x [B, K_tgt] (int64, ascending per row)
  sdk::MaskSet sample(std::int64_t batch_size, std::uint64_t batch_number) override;
  // No capability: nothing ever falls back (the masks are disjoint by construction).
  const void* capability(std::string_view) const noexcept override { return nullptr; }

  std::int64_t target_count() const { return k_tgt_; }  // round(ratio * N), half away from zero
  const RandomOptions& options() const { return opts_; }

 private:
  RandomOptions opts_;
  sdk::PatchGrid grid_;
  std::uint64_t seed_ = 0;
  std::int64_t k_tgt_ = 0;
};

}  // namespace ijepa::plugins::masker_ablations
