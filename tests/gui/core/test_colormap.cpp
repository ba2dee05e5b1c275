#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/colormap.hpp"
#include "core/latest_slot.hpp"

using namespace ijepa::gui;

TEST(Colormap, EndsAreTheTableEndsAndValuesClamp) {
  EXPECT_EQ(lookup(Colormap::viridis, 0.0), (Rgba8{68, 1, 84, 255}));
  EXPECT_EQ(lookup(Colormap::viridis, 1.0), (Rgba8{253, 231, 37, 255}));
  EXPECT_EQ(lookup(Colormap::viridis, -3.0), lookup(Colormap::viridis, 0.0));
  EXPECT_EQ(lookup(Colormap::viridis, 7.0), lookup(Colormap::viridis, 1.0));
  EXPECT_EQ(lookup(Colormap::coolwarm, 0.0), (Rgba8{59, 76, 192, 255}));
  EXPECT_EQ(lookup(Colormap::magma, 0.0), (Rgba8{0, 0, 4, 255}));
}

TEST(Colormap, BlendsLinearlyBetweenEntries) {
  const Rgba8 a = lookup(Colormap::magma, 100.0 / 255.0), b = lookup(Colormap::magma, 101.0 / 255.0);
  const Rgba8 m = lookup(Colormap::magma, 100.5 / 255.0);
  EXPECT_NEAR(m.r, (a.r + b.r) / 2.0, 1.0);
  EXPECT_NEAR(m.g, (a.g + b.g) / 2.0, 1.0);
  EXPECT_NEAR(m.b, (a.b + b.b) / 2.0, 1.0);
}

TEST(Colormap, ViridisLuminanceIncreases) {
  double prev = -1;
  for (int i = 0; i <= 255; i += 15) {
    const Rgba8 c = lookup(Colormap::viridis, i / 255.0);
    const double y = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    EXPECT_GT(y, prev) << i;
    prev = y;
  }
}

TEST(Colormap, NonFiniteValuesAreBlackAndCounted) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  ColorizeStats st;
  const RgbaImage img = colorize_auto({0.0f, nan, 2.0f, inf}, 2, 2, Colormap::viridis, &st);
  EXPECT_EQ(st.non_finite, 2);
  EXPECT_DOUBLE_EQ(st.lo, 0.0);
  EXPECT_DOUBLE_EQ(st.hi, 2.0);
  EXPECT_EQ(img.at(1, 0), kNonFinite);
  EXPECT_EQ(img.at(1, 1), kNonFinite);
  EXPECT_EQ(img.at(0, 0), lookup(Colormap::viridis, 0.0));
  EXPECT_EQ(img.at(0, 1), lookup(Colormap::viridis, 1.0));
  EXPECT_THROW((void)img.at(2, 0), std::out_of_range);
}

TEST(Colormap, ConstantInputAndBadSizes) {
  const RgbaImage img = colorize_auto({5.0f, 5.0f}, 2, 1, Colormap::coolwarm);
  EXPECT_EQ(img.at(0, 0), lookup(Colormap::coolwarm, 0.0));
  EXPECT_THROW(colorize({1.0f}, 2, 2, Colormap::viridis, 0, 1), std::invalid_argument);
  EXPECT_EQ(parse_colormap("magma"), Colormap::magma);
  try {
    parse_colormap("jet");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("viridis"), std::string::npos);
  }
}

TEST(Colormap, MaskColoursFollowTheGuide) {
  EXPECT_EQ(mask_colour(-1), (Rgba8{0, 0, 255, 89}));  // blue at alpha 0.35
  std::set<int> hues;
  for (int t = 0; t < 8; ++t) {
    const Rgba8 c = mask_colour(t);
    EXPECT_EQ(c.a, 128);  // alpha 0.5
    hues.insert(c.r * 65536 + c.g * 256 + c.b);
  }
  EXPECT_EQ(hues.size(), 8u);
  EXPECT_EQ(mask_colour(8), mask_colour(0));
}

TEST(LatestSlot, KeepsOnlyTheNewestValue) {
  LatestSlot<int> s;
  EXPECT_FALSE(s.take().has_value());
  s.publish(1);
  s.publish(2);
  EXPECT_EQ(s.published(), 2u);
  auto v = s.take();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 2);
  EXPECT_FALSE(s.take().has_value());
}
