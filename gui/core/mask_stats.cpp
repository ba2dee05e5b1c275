#include "core/mask_stats.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ijepa::gui {

MaskStatsAccumulator::MaskStatsAccumulator(Grid grid, int bins)
    : grid_(grid),
      bins_(std::max(1, bins)),
      hist_(static_cast<std::size_t>(std::max(1, bins)), 0),
      ctx_count_(static_cast<std::size_t>(std::max(0, grid.count())), 0),
      tgt_count_(static_cast<std::size_t>(std::max(0, grid.count())), 0) {
  if (grid.h <= 0 || grid.w <= 0) throw std::invalid_argument("mask statistics need a non-empty patch grid");
}

void MaskStatsAccumulator::add(const std::vector<std::int64_t>& context,
                               const std::vector<std::vector<std::int64_t>>& targets) {
  const std::int64_t n = grid_.count();
  auto check = [&](std::int64_t id) {
    if (id < 0 || id >= n) {
      throw std::out_of_range("patch id " + std::to_string(id) + " outside the " + std::to_string(grid_.h) + "x" +
                              std::to_string(grid_.w) + " grid");
    }
  };
  std::vector<char> in_ctx(static_cast<std::size_t>(n), 0), in_tgt(static_cast<std::size_t>(n), 0);
  for (auto id : context) {
    check(id);
    in_ctx[static_cast<std::size_t>(id)] = 1;
  }
  std::int64_t k_pred = 0;
  for (const auto& t : targets) {
    k_pred += static_cast<std::int64_t>(t.size());
    for (auto id : t) {
      check(id);
      in_tgt[static_cast<std::size_t>(id)] = 1;
    }
  }
  for (std::size_t i = 0; i < in_ctx.size(); ++i) {
    ctx_count_[i] += in_ctx[i];
    tgt_count_[i] += in_tgt[i];
  }
  const auto k_enc = static_cast<std::int64_t>(context.size());
  const double ratio = static_cast<double>(k_enc) / static_cast<double>(n);
  const int bin = std::min(bins_ - 1, static_cast<int>(ratio * bins_));
  ++hist_[static_cast<std::size_t>(bin)];
  if (samples_ == 0) {
    min_k_enc_ = max_k_enc_ = k_enc;
    min_ratio_ = max_ratio_ = ratio;
  }
  min_k_enc_ = std::min(min_k_enc_, k_enc);
  max_k_enc_ = std::max(max_k_enc_, k_enc);
  min_ratio_ = std::min(min_ratio_, ratio);
  max_ratio_ = std::max(max_ratio_, ratio);
  sum_ratio_ += ratio;
  sum_k_enc_ += static_cast<double>(k_enc);
  sum_k_pred_ += targets.empty() ? 0.0 : static_cast<double>(k_pred) / static_cast<double>(targets.size());
  ++samples_;
}

MaskStatsSummary MaskStatsAccumulator::summary() const {
  MaskStatsSummary s;
  s.grid = grid_;
  s.samples = samples_;
  s.batches = batches_;
  s.fallbacks = fallbacks_;
  s.ratio_hist = hist_;
  const double n = samples_ > 0 ? static_cast<double>(samples_) : 1.0;
  s.mean_ratio = sum_ratio_ / n;
  s.min_ratio = samples_ ? min_ratio_ : 0.0;
  s.max_ratio = samples_ ? max_ratio_ : 0.0;
  s.mean_k_enc = sum_k_enc_ / n;
  s.mean_k_pred = sum_k_pred_ / n;
  s.min_k_enc = min_k_enc_;
  s.max_k_enc = max_k_enc_;
  s.context_freq.resize(ctx_count_.size());
  s.target_freq.resize(tgt_count_.size());
  for (std::size_t i = 0; i < ctx_count_.size(); ++i) {
    s.context_freq[i] = static_cast<float>(static_cast<double>(ctx_count_[i]) / n);
    s.target_freq[i] = static_cast<float>(static_cast<double>(tgt_count_[i]) / n);
    if (ctx_count_[i] == 0 && tgt_count_[i] == 0) ++s.never_used;
  }
  return s;
}

}  // namespace ijepa::gui
