#pragma once
// Where patches are on screen: the rectangle of a patch id inside the rectangle an image is drawn in, and back.
#include <cstdint>
#include <optional>
#include <vector>

namespace ijepa::gui {

struct Rect {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // top-left inclusive, bottom-right exclusive
  float width() const { return x1 - x0; }
  float height() const { return y1 - y0; }
  bool contains(float x, float y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

struct Grid {
  int h = 0, w = 0;  // patches per column / row
  int count() const { return h * w; }
};

// patch_rect(grid, id, image) -> the rectangle of patch `id` (row-major: row id / w, column id % w).
// Throws std::out_of_range for an id outside the grid.
Rect patch_rect(Grid grid, std::int64_t id, const Rect& image);
// patch_rects(grid, ids, image) -> one rectangle per id, in order.
std::vector<Rect> patch_rects(Grid grid, const std::vector<std::int64_t>& ids, const Rect& image);
// patch_at(grid, image, x, y) -> the patch under a point, or nullopt outside the image.
std::optional<std::int64_t> patch_at(Grid grid, const Rect& image, float x, float y);
// grid_lines(grid, image) -> the inner grid lines as pairs of points {x0, y0, x1, y1}.
std::vector<Rect> grid_lines(Grid grid, const Rect& image);
// fit_rect(content_w, content_h, box) -> the largest rectangle of the content's aspect ratio centred in box.
Rect fit_rect(float content_w, float content_h, const Rect& box);

}  // namespace ijepa::gui
