// bench::StepClock, the per-step timer of `ijepa bench train` (CPU path here; the CUDA path, events on the current
// stream, runs in the device check).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "ijepa/host/bench/step_clock.hpp"

using ijepa::host::bench::StepClock;

TEST(StepClock, GivesOneDurationPerIntervalBetweenMarks) {
  StepClock clock(c10::Device(c10::kCPU));
  EXPECT_TRUE(clock.seconds().empty());
  clock.mark();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  clock.mark();
  clock.mark();
  const std::vector<double> s = clock.seconds();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_GE(s[0], 0.030);
  EXPECT_LT(s[0], 5.0);
  EXPECT_GE(s[1], 0.0);
  EXPECT_LT(s[1], s[0]);
}
