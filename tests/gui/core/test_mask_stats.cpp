#include <stdexcept>

#include <gtest/gtest.h>

#include "core/mask_stats.hpp"

using namespace ijepa::gui;

TEST(MaskStats, CountsRatiosAndPatchFrequencies) {
  MaskStatsAccumulator acc(Grid{4, 4}, 10);
  acc.add({0, 1, 2, 3, 4, 5, 6, 7}, {{8, 9}, {9, 10}});  // ratio 0.5
  acc.add({0, 1, 2, 3}, {{12, 13}, {8, 9}});              // ratio 0.25
  acc.add_batch(1);
  const MaskStatsSummary s = acc.summary();
  EXPECT_EQ(s.samples, 2);
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.fallbacks, 1);
  EXPECT_DOUBLE_EQ(s.mean_ratio, 0.375);
  EXPECT_DOUBLE_EQ(s.min_ratio, 0.25);
  EXPECT_DOUBLE_EQ(s.max_ratio, 0.5);
  EXPECT_EQ(s.ratio_hist[5], 1);
  EXPECT_EQ(s.ratio_hist[2], 1);
  EXPECT_DOUBLE_EQ(s.mean_k_enc, 6.0);
  EXPECT_DOUBLE_EQ(s.mean_k_pred, 2.0);
  EXPECT_FLOAT_EQ(s.context_freq[0], 1.0f);
  EXPECT_FLOAT_EQ(s.context_freq[5], 0.5f);
  EXPECT_FLOAT_EQ(s.target_freq[9], 1.0f);   // in a target of both samples (counted once per sample)
  EXPECT_FLOAT_EQ(s.target_freq[12], 0.5f);
  // patches 11, 14, 15 never used
  EXPECT_EQ(s.never_used, 3);
}

TEST(MaskStats, RejectsIdsOutsideTheGrid) {
  MaskStatsAccumulator acc(Grid{2, 2});
  EXPECT_THROW(acc.add({0, 4}, {}), std::out_of_range);
  EXPECT_THROW(acc.add({0}, {{-1}}), std::out_of_range);
  EXPECT_THROW(MaskStatsAccumulator(Grid{0, 3}), std::invalid_argument);
}
