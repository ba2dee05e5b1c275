#pragma once
// Line-plot geometry (no drawing): "nice" axis ticks, the data -> pixel transform and per-pixel-column min/max
// decimation, so a curve of 100k points draws as at most 2 points a pixel column without losing spikes.
#include <string>
#include <vector>

#include "core/patch_geometry.hpp"

namespace ijepa::gui {

struct Point {
  float x = 0, y = 0;
};

// nice_ticks(lo, hi, max_ticks) -> ticks at 1/2/5 x 10^k steps covering [lo, hi] (inside it), at most max_ticks.
// A degenerate range (lo == hi) gives {lo}; non-finite bounds give {}.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks);
// format_tick(v, step) -> a label with as many decimals as the step needs ("0.25", "1e-05", "2000").
std::string format_tick(double v, double step);

struct Range {
  double lo = 0, hi = 1;
};
// data_range(values, pad) -> [min, max] of the finite values, widened by pad * span on both sides (a constant
// series gets +-0.5 of its value, or +-1 at 0); {0, 1} when there is no finite value.
Range data_range(const std::vector<double>& values, double pad);

class PlotTransform {
 public:
  PlotTransform(Range x, Range y, const Rect& pixels, bool log_y = false);
  Point to_pixel(double x, double y) const;  // y grows downwards on screen
  double x_at(float px) const;               // inverse for the hover readout
  bool log_y() const { return log_y_; }
  const Rect& pixels() const { return px_; }

 private:
  double ty(double y) const;
  Range x_, y_;
  Rect px_;
  bool log_y_;
};

// decimate(xs, ys, transform) -> the polyline in pixels: for each pixel column the first, min, max and last points
// (in x order), non-finite points skipped (log scale: non-positive too). xs must be non-decreasing.
std::vector<Point> decimate(const std::vector<double>& xs, const std::vector<double>& ys, const PlotTransform& t);

// nearest_index(xs, x) -> the index of the x value nearest to x (xs non-decreasing, non-empty), or -1 when empty.
long nearest_index(const std::vector<double>& xs, double x);

}  // namespace ijepa::gui
