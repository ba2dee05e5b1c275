#include "core/plot_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ijepa::gui {

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || max_ticks < 1) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  // The smallest 1/2/5 x 10^k step that puts at most max_ticks ticks inside [lo, hi].
  const double raw = (hi - lo) / max_ticks;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (int guard = 0; guard < 4; ++guard, mag *= 10) {
    bool found = false;
    for (double m : {1.0, 2.0, 5.0}) {
      step = m * mag;
      const double count = std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1;
      if (count <= max_ticks) {
        found = true;
        break;
      }
    }
    if (found) break;
  }
  std::vector<double> out;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    if (static_cast<int>(out.size()) > max_ticks) break;
  }
  while (static_cast<int>(out.size()) > max_ticks) out.pop_back();
  return out;
}

std::string format_tick(double v, double step) {
  char buf[64];
  const double a = std::abs(v);
  if (a != 0.0 && (a < 1e-3 || a >= 1e6)) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  int decimals = 0;
  if (step > 0 && step < 1) decimals = std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

Range data_range(const std::vector<double>& values, double pad) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(lo <= hi)) return {0.0, 1.0};
  if (lo == hi) {
    const double d = lo == 0.0 ? 1.0 : std::abs(lo) * 0.5;
    return {lo - d, hi + d};
  }
  const double p = (hi - lo) * pad;
  return {lo - p, hi + p};
}

PlotTransform::PlotTransform(Range x, Range y, const Rect& pixels, bool log_y)
    : x_(x), y_(y), px_(pixels), log_y_(log_y) {
  if (log_y_) {
    y_.lo = std::log10(std::max(y_.lo, 1e-30));
    y_.hi = std::log10(std::max(y_.hi, 1e-30));
  }
  if (x_.hi == x_.lo) x_.hi = x_.lo + 1;
  if (y_.hi == y_.lo) y_.hi = y_.lo + 1;
}

double PlotTransform::ty(double y) const { return log_y_ ? std::log10(y) : y; }

Point PlotTransform::to_pixel(double x, double y) const {
  const double fx = (x - x_.lo) / (x_.hi - x_.lo);
  const double fy = (ty(y) - y_.lo) / (y_.hi - y_.lo);
  return Point{static_cast<float>(px_.x0 + fx * px_.width()), static_cast<float>(px_.y1 - fy * px_.height())};
}

double PlotTransform::x_at(float px) const {
  return x_.lo + (static_cast<double>(px) - px_.x0) / std::max(1.0f, px_.width()) * (x_.hi - x_.lo);
}

std::vector<Point> decimate(const std::vector<double>& xs, const std::vector<double>& ys, const PlotTransform& t) {
  std::vector<Point> out;
  const std::size_t n = std::min(xs.size(), ys.size());
  long col = std::numeric_limits<long>::min();
  Point first{}, mn{}, mx{}, last{};
  bool have = false;
  auto flush = [&] {
    if (!have) return;
    out.push_back(first);
    // min and max in the order they occurred is not tracked; draw min then max (a vertical segment either way).
    if (!(mn.y == first.y && mn.x == first.x)) out.push_back(mn);
    if (!(mx.y == mn.y && mx.x == mn.x)) out.push_back(mx);
    if (!(last.y == mx.y && last.x == mx.x)) out.push_back(last);
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(xs[i]) || !std::isfinite(ys[i]) || (t.log_y() && ys[i] <= 0)) continue;
    const Point p = t.to_pixel(xs[i], ys[i]);
    const long c = static_cast<long>(std::floor(p.x));
    if (!have || c != col) {
      flush();
      col = c;
      first = mn = mx = last = p;
      have = true;
      continue;
    }
    if (p.y > mn.y) mn = p;  // screen y: larger is lower
    if (p.y < mx.y) mx = p;
    last = p;
  }
  flush();
  return out;
}

long nearest_index(const std::vector<double>& xs, double x) {
  if (xs.empty()) return -1;
  const auto it = std::lower_bound(xs.begin(), xs.end(), x);
  if (it == xs.begin()) return 0;
  if (it == xs.end()) return static_cast<long>(xs.size()) - 1;
  const long i = static_cast<long>(it - xs.begin());
  return (x - xs[static_cast<std::size_t>(i - 1)] <= xs[static_cast<std::size_t>(i)] - x) ? i - 1 : i;
}

}  // namespace ijepa::gui
