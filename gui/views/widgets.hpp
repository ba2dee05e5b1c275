#pragma once
// Small ImGui widgets shared by the panels: an image with patch overlays, a colour bar, a line plot.
#include <cstdint>
#include <string>
#include <vector>

#include <imgui.h>

#include "core/colormap.hpp"
#include "core/patch_geometry.hpp"
#include "core/run_reader.hpp"
#include "views/texture_cache.hpp"

namespace ijepa::gui {

inline ImU32 to_imu32(Rgba8 c) { return IM_COL32(c.r, c.g, c.b, c.a); }

// image(textures, key, img, version, linear, side) -> the screen rectangle it was drawn in (side x side at most,
// aspect kept). Draws a placeholder frame when img is empty.
Rect image(TextureCache& textures, const std::string& key, const RgbaImage& img, std::uint64_t version, bool linear,
           float side);
// overlay(textures, key, img, version, rect, alpha): img stretched over rect (GL_NEAREST), alpha in [0, 1].
void overlay(TextureCache& textures, const std::string& key, const RgbaImage& img, std::uint64_t version,
             const Rect& rect, float alpha);
// mask_overlay(rect, grid, context, targets, grid_lines): context blue, each target its hue, optional patch grid.
void mask_overlay(const Rect& rect, Grid grid, const std::vector<std::int64_t>& context,
                  const std::vector<std::vector<std::int64_t>>& targets, bool grid_lines);
// mask_legend(num_targets): coloured squares with "context", "target 1", ...
void mask_legend(int num_targets);
// colour_bar(textures, map, lo, hi, width): a horizontal bar with the range printed below.
void colour_bar(TextureCache& textures, Colormap map, double lo, double hi, float width);

struct PlotLine {
  std::string label;
  const Series* series = nullptr;
  ImU32 colour = IM_COL32(255, 255, 255, 255);
};
// line_plot(id, lines, size, log_y): axes with nice ticks, min/max-decimated polylines, hover readout of the nearest
// step. Returns false when no line had a finite point.
bool line_plot(const char* id, const std::vector<PlotLine>& lines, ImVec2 size, bool log_y);
// colormap_combo(index): a combo over colormap_names(); true when the choice changed.
bool colormap_combo(int* index);
// model_controls(path, pending, description, error) -> true when "Open model" was pressed.
bool model_controls(std::string& path, bool pending, const std::string& description, const std::string& error);
// The colour of line i of a comparison.
ImU32 line_colour(int i);

}  // namespace ijepa::gui
