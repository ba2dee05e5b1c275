#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "ijepa/host/run/schedules.hpp"

using ijepa::host::Schedules;

namespace {
Schedules official(std::int64_t ipe, std::int64_t epochs, std::int64_t warmup_epochs) {
  Schedules s;  // released configs: 2e-4 -> 1e-3 -> 1e-6, wd 0.04 -> 0.4, ema 0.996 -> 1
  s.warmup_steps = warmup_epochs * ipe;
  s.total_steps = epochs * ipe;
  return s;
}
}  // namespace

TEST(Schedules, LearningRateMatchesOfficialFormula) {
  const Schedules s = official(625, 300, 40);  // IN-1k ViT-H/14: 25,000 warmup steps, T = 187,500
  EXPECT_EQ(s.warmup_steps, 25000);
  EXPECT_EQ(s.total_steps, 187500);
  EXPECT_DOUBLE_EQ(s.lr(1), 2e-4 + (1.0 / 25000) * (1e-3 - 2e-4));
  EXPECT_DOUBLE_EQ(s.lr(12500), 2e-4 + 0.5 * (1e-3 - 2e-4));
  EXPECT_DOUBLE_EQ(s.lr(25000), 1e-3);  // warmup ends: cosine at progress 0
  const double p = (100000.0 - 25000.0) / (187500.0 - 25000.0);
  EXPECT_DOUBLE_EQ(s.lr(100000), 1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + std::cos(M_PI * p)));
  EXPECT_NEAR(s.lr(187500), 1e-6, 1e-15);
  EXPECT_GE(s.lr(200000), 1e-6);  // never below final_lr past T
}

TEST(Schedules, WeightDecayIsCosineIncreaseClampedToFinal) {
  const Schedules s = official(625, 300, 40);
  EXPECT_NEAR(s.wd(1), 0.04, 1e-9);
  EXPECT_DOUBLE_EQ(s.wd(93750), 0.4 + (0.04 - 0.4) * 0.5 * (1 + std::cos(M_PI * 0.5)));
  EXPECT_DOUBLE_EQ(s.wd(187500), 0.4);
  // Official clamp: min(final_wd, v) when final_wd > ref_wd, max(final_wd, v) otherwise (only bites past T).
  const double past = 0.4 + (0.04 - 0.4) * 0.5 * (1 + std::cos(M_PI * 250000.0 / 187500.0));
  EXPECT_DOUBLE_EQ(s.wd(250000), std::min(0.4, past));
  for (std::int64_t t = 1; t <= 187500; t += 977) EXPECT_LE(s.wd(t), 0.4 + 1e-12);
  Schedules d = s;
  d.ref_wd = 0.4;
  d.final_wd = 0.04;
  for (std::int64_t t = 1; t <= 187500; t += 977) EXPECT_GE(d.wd(t), 0.04 - 1e-12);
  EXPECT_DOUBLE_EQ(d.wd(187500), 0.04);
}

TEST(Schedules, EmaMomentumIsLinear) {
  const Schedules s = official(100, 10, 1);
  EXPECT_DOUBLE_EQ(s.ema(0), 0.996);
  EXPECT_DOUBLE_EQ(s.ema(500), 0.996 + 500 * (1.0 - 0.996) / 1000);
  EXPECT_DOUBLE_EQ(s.ema(1000), 1.0);
}
