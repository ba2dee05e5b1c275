#include <cmath>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/patch_geometry.hpp"
#include "core/plot_geometry.hpp"

using namespace ijepa::gui;

TEST(PatchGeometry, RectsAreRowMajorInsideTheImage) {
  const Rect img{10, 20, 234, 244};  // 224 x 224 at (10, 20)
  const Grid g{14, 14};
  const Rect r = patch_rect(g, 15, img);  // row 1, column 1
  EXPECT_FLOAT_EQ(r.x0, 26);
  EXPECT_FLOAT_EQ(r.y0, 36);
  EXPECT_FLOAT_EQ(r.x1, 42);
  EXPECT_FLOAT_EQ(r.y1, 52);
  const Rect last = patch_rect(g, 195, img);
  EXPECT_FLOAT_EQ(last.x1, 234);
  EXPECT_FLOAT_EQ(last.y1, 244);
  EXPECT_THROW(patch_rect(g, 196, img), std::out_of_range);
  EXPECT_THROW(patch_rect(g, -1, img), std::out_of_range);
  EXPECT_EQ(patch_rects(g, {0, 13, 14}, img).size(), 3u);
}

TEST(PatchGeometry, PatchAtInvertsPatchRect) {
  const Rect img{0, 0, 300, 200};
  const Grid g{4, 6};
  for (std::int64_t id = 0; id < g.count(); ++id) {
    const Rect r = patch_rect(g, id, img);
    const auto hit = patch_at(g, img, (r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2);
    ASSERT_TRUE(hit.has_value());
    EXPECT_EQ(*hit, id);
  }
  EXPECT_FALSE(patch_at(g, img, -1, 5).has_value());
  EXPECT_FALSE(patch_at(g, img, 300, 5).has_value());
  EXPECT_EQ(*patch_at(g, img, 299.9f, 199.9f), g.count() - 1);
}

TEST(PatchGeometry, GridLinesAndFit) {
  EXPECT_EQ(grid_lines(Grid{8, 8}, Rect{0, 0, 64, 64}).size(), 14u);
  const Rect f = fit_rect(200, 100, Rect{0, 0, 400, 400});
  EXPECT_FLOAT_EQ(f.width(), 400);
  EXPECT_FLOAT_EQ(f.height(), 200);
  EXPECT_FLOAT_EQ(f.y0, 100);
}

TEST(PlotGeometry, NiceTicks) {
  const auto t = nice_ticks(0, 1, 6);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_NEAR(t[1], 0.2, 1e-12);
  EXPECT_NEAR(t[5], 1.0, 1e-12);
  const auto u = nice_ticks(3, 1047, 6);  // steps of 200 inside [3, 1047]
  ASSERT_FALSE(u.empty());
  EXPECT_DOUBLE_EQ(u.front(), 200);
  EXPECT_DOUBLE_EQ(u.back(), 1000);
  for (double v : nice_ticks(0.00131, 0.00472, 5)) {
    EXPECT_GE(v, 0.00131);
    EXPECT_LE(v, 0.00472);
  }
  EXPECT_EQ(nice_ticks(2, 2, 5), std::vector<double>{2});
  EXPECT_TRUE(nice_ticks(NAN, 1, 5).empty());
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(2000, 500), "2000");
  EXPECT_EQ(format_tick(1e-5, 1e-5), "1e-05");
}

TEST(PlotGeometry, TransformMapsCornersAndLogScale) {
  const PlotTransform t({0, 100}, {0, 1}, Rect{10, 10, 110, 60});
  const Point a = t.to_pixel(0, 0), b = t.to_pixel(100, 1);
  EXPECT_FLOAT_EQ(a.x, 10);
  EXPECT_FLOAT_EQ(a.y, 60);  // y grows downwards
  EXPECT_FLOAT_EQ(b.x, 110);
  EXPECT_FLOAT_EQ(b.y, 10);
  EXPECT_NEAR(t.x_at(60), 50, 1e-9);
  const PlotTransform l({0, 1}, {0.001, 10}, Rect{0, 0, 100, 40}, true);
  EXPECT_NEAR(l.to_pixel(0, 0.1).y, 20, 1e-4);  // log10 midway between -3 and 1
  const Range r = data_range({1, 1, NAN}, 0.1);
  EXPECT_LT(r.lo, 1);
  EXPECT_GT(r.hi, 1);
}

TEST(PlotGeometry, DecimationKeepsSpikesAndBoundsPoints) {
  std::vector<double> x, y;
  for (int i = 0; i < 100000; ++i) {
    x.push_back(i);
    y.push_back(i == 54321 ? 100.0 : std::sin(i * 0.001));
  }
  const PlotTransform t(data_range(x, 0), data_range(y, 0), Rect{0, 0, 200, 100});
  const auto pts = decimate(x, y, t);
  EXPECT_LE(pts.size(), 4u * 201u);
  float top = 1e9f;
  for (const auto& p : pts) top = std::min(top, p.y);
  EXPECT_NEAR(top, 0.0f, 1e-3);  // the spike (the maximum) reaches the top edge
  std::vector<double> yn = {1, NAN, 2};
  EXPECT_EQ(decimate({0, 1, 2}, yn, t).size(), 2u);
  EXPECT_EQ(nearest_index({0, 10, 20}, 14), 1);
  EXPECT_EQ(nearest_index({0, 10, 20}, 16), 2);
  EXPECT_EQ(nearest_index({}, 1), -1);
}
