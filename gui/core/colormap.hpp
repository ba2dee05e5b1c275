#pragma once
// Colour maps: 256-entry RGBA8 lookup tables (generated offline by tools/gen_colormaps.py) applied to scalar maps.
#include <cstdint>
#include <string>
#include <vector>

namespace ijepa::gui {

enum class Colormap { viridis, magma, coolwarm };

// The names, in enum order ("viridis", "magma", "coolwarm").
const std::vector<std::string>& colormap_names();
// parse_colormap(name) -> the map; throws std::invalid_argument naming the known maps.
Colormap parse_colormap(const std::string& name);

struct Rgba8 {
  std::uint8_t r = 0, g = 0, b = 0, a = 255;
  bool operator==(const Rgba8& o) const { return r == o.r && g == o.g && b == o.b && a == o.a; }
};

// The colour for non-finite values (black, opaque).
inline constexpr Rgba8 kNonFinite{0, 0, 0, 255};

// mask_colour(target): the overlay colour of the context (target -1: blue, alpha 0.35) or of target block i (its own
// hue from a fixed palette of 8, alpha 0.5), as the architecture guide's mask rules say.
Rgba8 mask_colour(int target);

// lookup(map, t) -> the colour at t in [0, 1] (clamped), blended linearly between the two nearest entries;
// kNonFinite for NaN/inf.
Rgba8 lookup(Colormap map, double t);

// An RGBA8 image, row-major, 4 bytes a pixel.
struct RgbaImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;
  Rgba8 at(int x, int y) const;
};

struct ColorizeStats {
  double lo = 0.0, hi = 0.0;   // the range mapped to [0, 1]
  std::int64_t non_finite = 0; // values drawn in kNonFinite
};

// colorize(values, w, h, map, lo, hi) -> an RGBA8 image of the w*h row-major values, (v - lo) / (hi - lo) clamped;
// lo == hi maps everything to 0. stats (optional) gets the range and the count of non-finite values.
RgbaImage colorize(const std::vector<float>& values, int width, int height, Colormap map, double lo, double hi,
                   ColorizeStats* stats = nullptr);
// colorize_auto: the same with lo/hi the finite minimum and maximum of the values.
RgbaImage colorize_auto(const std::vector<float>& values, int width, int height, Colormap map,
                        ColorizeStats* stats = nullptr);

}  // namespace ijepa::gui
