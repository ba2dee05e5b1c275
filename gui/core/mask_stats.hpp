#pragma once
// Statistics of a masker over many samples: context-ratio histogram, K_enc / K_pred, and how often each patch is in
// the context or in a target (the heatmap that shows the faithful sampler never reaching the last row and column).
#include <cstdint>
#include <vector>

#include "core/patch_geometry.hpp"

namespace ijepa::gui {

struct MaskStatsSummary {
  Grid grid;
  std::int64_t samples = 0;              // images counted
  std::int64_t batches = 0;
  std::int64_t fallbacks = 0;
  std::vector<std::int64_t> ratio_hist;  // context ratio K_enc / N in `bins` equal bins over [0, 1]
  double mean_ratio = 0, min_ratio = 0, max_ratio = 0;
  double mean_k_enc = 0, mean_k_pred = 0;
  std::int64_t min_k_enc = 0, max_k_enc = 0;
  std::vector<float> context_freq;       // [N] share of samples with the patch in the context
  std::vector<float> target_freq;        // [N] share of samples with the patch in any target
  std::int64_t never_used = 0;           // patches never in a context nor a target
};

class MaskStatsAccumulator {
 public:
  MaskStatsAccumulator(Grid grid, int bins = 20);
  // add(context, targets): one image's context block and target blocks (patch ids; out-of-grid ids throw
  // std::out_of_range).
  void add(const std::vector<std::int64_t>& context, const std::vector<std::vector<std::int64_t>>& targets);
  void add_batch(std::int64_t fallbacks) {
    ++batches_;
    fallbacks_ += fallbacks;
  }
  MaskStatsSummary summary() const;

 private:
  Grid grid_;
  int bins_;
  std::int64_t samples_ = 0, batches_ = 0, fallbacks_ = 0;
  std::vector<std::int64_t> hist_, ctx_count_, tgt_count_;
  double sum_ratio_ = 0, min_ratio_ = 1, max_ratio_ = 0, sum_k_enc_ = 0, sum_k_pred_ = 0;
  std::int64_t min_k_enc_ = 0, max_k_enc_ = 0;
};

}  // namespace ijepa::gui
