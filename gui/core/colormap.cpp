#include "core/colormap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ijepa::gui {

namespace {
#include "core/colormap_data.inc"

const unsigned char (*table(Colormap m))[4] {
  switch (m) {
    case Colormap::viridis: return k_viridis;
    case Colormap::magma: return k_magma;
    case Colormap::coolwarm: return k_coolwarm;
  }
  return k_viridis;
}
}  // namespace

const std::vector<std::string>& colormap_names() {
  static const std::vector<std::string> names{"viridis", "magma", "coolwarm"};
  return names;
}

Colormap parse_colormap(const std::string& name) {
  const auto& names = colormap_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Colormap>(i);
  }
  throw std::invalid_argument("unknown colour map '" + name + "' (known: viridis, magma, coolwarm)");
}

Rgba8 mask_colour(int target) {
  if (target < 0) return Rgba8{0, 0, 255, 89};
  static const Rgba8 palette[8] = {{255, 140, 0, 128}, {0, 200, 70, 128},  {230, 0, 230, 128}, {255, 230, 0, 128},
                                   {230, 20, 20, 128}, {0, 220, 220, 128}, {140, 70, 20, 128}, {255, 255, 255, 128}};
  return palette[target % 8];
}

Rgba8 lookup(Colormap map, double t) {
  if (!std::isfinite(t)) return kNonFinite;
  t = std::clamp(t, 0.0, 1.0) * 255.0;
  const int i = std::min(static_cast<int>(t), 254);
  const double f = t - i;
  const auto* lut = table(map);
  auto mix = [&](int c) {
    return static_cast<std::uint8_t>(std::lround(lut[i][c] * (1.0 - f) + lut[i + 1][c] * f));
  };
  return Rgba8{mix(0), mix(1), mix(2), 255};
}

Rgba8 RgbaImage::at(int x, int y) const {
  if (x < 0 || y < 0 || x >= width || y >= height) throw std::out_of_range("pixel outside the image");
  const std::size_t o = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 4;
  return Rgba8{pixels[o], pixels[o + 1], pixels[o + 2], pixels[o + 3]};
}

RgbaImage colorize(const std::vector<float>& values, int width, int height, Colormap map, double lo, double hi,
                   ColorizeStats* stats) {
  const std::size_t n = static_cast<std::size_t>(std::max(width, 0)) * static_cast<std::size_t>(std::max(height, 0));
  if (values.size() != n) throw std::invalid_argument("colorize: " + std::to_string(values.size()) +
                                                      " values for a " + std::to_string(width) + "x" +
                                                      std::to_string(height) + " image");
  RgbaImage img;
  img.width = width;
  img.height = height;
  img.pixels.resize(n * 4);
  const double span = hi - lo;
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = values[i];
    Rgba8 c;
    if (!std::isfinite(v)) {
      c = kNonFinite;
      ++bad;
    } else {
      c = lookup(map, span > 0.0 ? (v - lo) / span : 0.0);
    }
    img.pixels[i * 4] = c.r;
    img.pixels[i * 4 + 1] = c.g;
    img.pixels[i * 4 + 2] = c.b;
    img.pixels[i * 4 + 3] = c.a;
  }
  if (stats) *stats = ColorizeStats{lo, hi, bad};
  return img;
}

RgbaImage colorize_auto(const std::vector<float>& values, int width, int height, Colormap map, ColorizeStats* stats) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
  }
  if (!(lo <= hi)) lo = hi = 0.0;
  return colorize(values, width, height, map, lo, hi, stats);
}

}  // namespace ijepa::gui
