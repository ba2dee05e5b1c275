#include "core/patch_geometry.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ijepa::gui {

Rect patch_rect(Grid grid, std::int64_t id, const Rect& image) {
  if (grid.h <= 0 || grid.w <= 0 || id < 0 || id >= grid.count()) {
    throw std::out_of_range("patch id " + std::to_string(id) + " outside a " + std::to_string(grid.h) + "x" +
                            std::to_string(grid.w) + " grid");
  }
  const auto row = static_cast<float>(id / grid.w);
  const auto col = static_cast<float>(id % grid.w);
  const float pw = image.width() / static_cast<float>(grid.w);
  const float ph = image.height() / static_cast<float>(grid.h);
  return Rect{image.x0 + col * pw, image.y0 + row * ph, image.x0 + (col + 1) * pw, image.y0 + (row + 1) * ph};
}

std::vector<Rect> patch_rects(Grid grid, const std::vector<std::int64_t>& ids, const Rect& image) {
  std::vector<Rect> out;
  out.reserve(ids.size());
  for (auto id : ids) out.push_back(patch_rect(grid, id, image));
  return out;
}

std::optional<std::int64_t> patch_at(Grid grid, const Rect& image, float x, float y) {
  if (grid.h <= 0 || grid.w <= 0 || !image.contains(x, y)) return std::nullopt;
  const int col = std::min(grid.w - 1, static_cast<int>((x - image.x0) / image.width() * static_cast<float>(grid.w)));
  const int row = std::min(grid.h - 1, static_cast<int>((y - image.y0) / image.height() * static_cast<float>(grid.h)));
  return static_cast<std::int64_t>(row) * grid.w + col;
}

std::vector<Rect> grid_lines(Grid grid, const Rect& image) {
  std::vector<Rect> out;
  for (int c = 1; c < grid.w; ++c) {
    const float x = image.x0 + image.width() * static_cast<float>(c) / static_cast<float>(grid.w);
    out.push_back(Rect{x, image.y0, x, image.y1});
  }
  for (int r = 1; r < grid.h; ++r) {
    const float y = image.y0 + image.height() * static_cast<float>(r) / static_cast<float>(grid.h);
    out.push_back(Rect{image.x0, y, image.x1, y});
  }
  return out;
}

Rect fit_rect(float content_w, float content_h, const Rect& box) {
  if (content_w <= 0 || content_h <= 0 || box.width() <= 0 || box.height() <= 0) return Rect{box.x0, box.y0, box.x0, box.y0};
  const float s = std::min(box.width() / content_w, box.height() / content_h);
  const float w = std::floor(content_w * s), h = std::floor(content_h * s);
  const float x0 = std::floor(box.x0 + (box.width() - w) / 2), y0 = std::floor(box.y0 + (box.height() - h) / 2);
  return Rect{x0, y0, x0 + w, y0 + h};
}

}  // namespace ijepa::gui
