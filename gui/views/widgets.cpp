#include "views/widgets.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <imgui_stdlib.h>

#include "core/plot_geometry.hpp"

namespace ijepa::gui {

Rect image(TextureCache& textures, const std::string& key, const RgbaImage& img, std::uint64_t version, bool linear,
           float side) {
  const ImVec2 p = ImGui::GetCursorScreenPos();
  if (img.width <= 0 || img.height <= 0) {
    ImGui::GetWindowDrawList()->AddRect(p, ImVec2(p.x + side, p.y + side), IM_COL32(128, 128, 128, 255));
    ImGui::Dummy(ImVec2(side, side));
    return Rect{p.x, p.y, p.x + side, p.y + side};
  }
  const Rect r = fit_rect(static_cast<float>(img.width), static_cast<float>(img.height), Rect{p.x, p.y, p.x + side, p.y + side});
  const ImTextureID id = textures.texture(key, img, version, linear);
  ImGui::SetCursorScreenPos(ImVec2(r.x0, r.y0));
  ImGui::Image(id, ImVec2(r.width(), r.height()));
  ImGui::SetCursorScreenPos(ImVec2(p.x, p.y + side + ImGui::GetStyle().ItemSpacing.y));
  ImGui::Dummy(ImVec2(side, 0));
  return r;
}

void overlay(TextureCache& textures, const std::string& key, const RgbaImage& img, std::uint64_t version,
             const Rect& rect, float alpha) {
  if (img.width <= 0 || img.height <= 0) return;
  const ImTextureID id = textures.texture(key, img, version, false);
  const auto a = static_cast<int>(std::lround(std::clamp(alpha, 0.0f, 1.0f) * 255.0f));
  ImGui::GetWindowDrawList()->AddImage(id, ImVec2(rect.x0, rect.y0), ImVec2(rect.x1, rect.y1), ImVec2(0, 0),
                                       ImVec2(1, 1), IM_COL32(255, 255, 255, a));
}

void mask_overlay(const Rect& rect, Grid grid, const std::vector<std::int64_t>& context,
                  const std::vector<std::vector<std::int64_t>>& targets, bool lines) {
  if (grid.count() <= 0) return;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 ctx = to_imu32(mask_colour(-1));
  for (const Rect& r : patch_rects(grid, context, rect)) dl->AddRectFilled(ImVec2(r.x0, r.y0), ImVec2(r.x1, r.y1), ctx);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const ImU32 c = to_imu32(mask_colour(static_cast<int>(t)));
    for (const Rect& r : patch_rects(grid, targets[t], rect)) dl->AddRectFilled(ImVec2(r.x0, r.y0), ImVec2(r.x1, r.y1), c);
  }
  if (lines) {
    for (const Rect& l : grid_lines(grid, rect)) {
      dl->AddLine(ImVec2(l.x0, l.y0), ImVec2(l.x1, l.y1), IM_COL32(255, 255, 255, 40));
    }
  }
}

void mask_legend(int num_targets) {
  auto swatch = [](Rgba8 c, const char* label) {
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float s = ImGui::GetTextLineHeight();
    ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + s, p.y + s), IM_COL32(c.r, c.g, c.b, 255));
    ImGui::Dummy(ImVec2(s, s));
    ImGui::SameLine();
    ImGui::TextUnformatted(label);
    ImGui::SameLine();
  };
  swatch(mask_colour(-1), "context");
  for (int t = 0; t < num_targets; ++t) {
    const std::string label = "target " + std::to_string(t + 1);
    swatch(mask_colour(t), label.c_str());
  }
  ImGui::NewLine();
}

void colour_bar(TextureCache& textures, Colormap map, double lo, double hi, float width) {
  std::vector<float> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<std::size_t>(i)] = static_cast<float>(i) / 255.0f;
  static const RgbaImage bars[3] = {colorize(ramp, 256, 1, Colormap::viridis, 0, 1),
                                    colorize(ramp, 256, 1, Colormap::magma, 0, 1),
                                    colorize(ramp, 256, 1, Colormap::coolwarm, 0, 1)};
  const int m = static_cast<int>(map);
  const ImTextureID id = textures.texture("colourbar/" + colormap_names()[static_cast<std::size_t>(m)], bars[m], 0, true);
  ImGui::Image(id, ImVec2(width, 10));
  ImGui::Text("%.4g", lo);
  ImGui::SameLine(std::max(0.0f, width - 60.0f));
  ImGui::Text("%.4g", hi);
}

ImU32 line_colour(int i) {
  static const ImU32 c[8] = {IM_COL32(80, 170, 255, 255), IM_COL32(255, 150, 40, 255), IM_COL32(90, 220, 110, 255),
                             IM_COL32(240, 80, 80, 255),  IM_COL32(190, 120, 250, 255), IM_COL32(240, 220, 60, 255),
                             IM_COL32(80, 230, 230, 255), IM_COL32(250, 130, 200, 255)};
  return c[((i % 8) + 8) % 8];
}

bool line_plot(const char* id, const std::vector<PlotLine>& lines, ImVec2 size, bool log_y) {
  ImGui::PushID(id);
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("plot", size);
  const bool hovered = ImGui::IsItemHovered();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(p, ImVec2(p.x + size.x, p.y + size.y), IM_COL32(20, 20, 24, 255));
  std::vector<double> xs, ys;
  for (const auto& l : lines) {
    if (!l.series) continue;
    xs.insert(xs.end(), l.series->x.begin(), l.series->x.end());
    for (double v : l.series->y) ys.push_back(log_y && v <= 0 ? std::numeric_limits<double>::quiet_NaN() : v);
  }
  bool any = false;
  for (double v : ys) any = any || std::isfinite(v);
  const float left = 56, bottom = 18, top = 16, right = 8;
  const Rect area{p.x + left, p.y + top, p.x + size.x - right, p.y + size.y - bottom};
  dl->AddText(ImVec2(p.x + 4, p.y + 1), IM_COL32(220, 220, 220, 255), id);
  if (!any) {
    dl->AddText(ImVec2(area.x0 + 8, area.y0 + 8), IM_COL32(160, 160, 160, 255), "no data yet");
    ImGui::PopID();
    return false;
  }
  const Range xr = data_range(xs, 0.0);
  Range yr = data_range(ys, 0.05);
  if (log_y) {
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (double v : ys) {
      if (std::isfinite(v) && v > 0) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    yr = Range{lo / 1.2, hi * 1.2};
  }
  const PlotTransform t(xr, yr, area, log_y);
  dl->AddRect(ImVec2(area.x0, area.y0), ImVec2(area.x1, area.y1), IM_COL32(90, 90, 90, 255));
  const auto xticks = nice_ticks(xr.lo, xr.hi, 6);
  const double xstep = xticks.size() > 1 ? xticks[1] - xticks[0] : 1.0;
  for (double tx : xticks) {
    const Point q = t.to_pixel(tx, yr.lo);
    dl->AddLine(ImVec2(q.x, area.y1), ImVec2(q.x, area.y1 + 3), IM_COL32(160, 160, 160, 255));
    // Centred on its tick, but kept whole inside the plot: a label at the right edge ("100000") was cut to "1000".
    const std::string label = format_tick(tx, xstep);
    const float tw = ImGui::CalcTextSize(label.c_str()).x;
    const float x = std::max(p.x, std::min(q.x - tw / 2, p.x + size.x - tw));
    dl->AddText(ImVec2(x, area.y1 + 3), IM_COL32(170, 170, 170, 255), label.c_str());
  }
  if (log_y) {
    for (double e = std::ceil(std::log10(yr.lo)); e <= std::floor(std::log10(yr.hi)); e += 1) {
      const double v = std::pow(10.0, e);
      const Point q = t.to_pixel(xr.lo, v);
      dl->AddLine(ImVec2(area.x0, q.y), ImVec2(area.x1, q.y), IM_COL32(60, 60, 60, 255));
      dl->AddText(ImVec2(p.x + 2, q.y - 7), IM_COL32(170, 170, 170, 255), format_tick(v, v).c_str());
    }
  } else {
    const auto ticks = nice_ticks(yr.lo, yr.hi, 5);
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
    for (double ty : ticks) {
      const Point q = t.to_pixel(xr.lo, ty);
      dl->AddLine(ImVec2(area.x0, q.y), ImVec2(area.x1, q.y), IM_COL32(60, 60, 60, 255));
      dl->AddText(ImVec2(p.x + 2, q.y - 7), IM_COL32(170, 170, 170, 255), format_tick(ty, step).c_str());
    }
  }
  dl->PushClipRect(ImVec2(area.x0, area.y0), ImVec2(area.x1 + 1, area.y1 + 1), true);
  float legend_x = p.x + left + 60;
  for (const auto& l : lines) {
    if (!l.series) continue;
    const auto pts = decimate(l.series->x, l.series->y, t);
    std::vector<ImVec2> v;
    v.reserve(pts.size());
    for (const auto& q : pts) v.emplace_back(q.x, q.y);
    if (v.size() == 1) dl->AddCircleFilled(v[0], 2.5f, l.colour);
    else if (!v.empty()) dl->AddPolyline(v.data(), static_cast<int>(v.size()), l.colour, 0, 1.5f);
  }
  dl->PopClipRect();
  for (const auto& l : lines) {
    dl->AddText(ImVec2(legend_x, p.y + 1), l.colour, l.label.c_str());
    legend_x += ImGui::CalcTextSize(l.label.c_str()).x + 12;
  }
  if (hovered) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    if (m.x >= area.x0 && m.x <= area.x1) {
      dl->AddLine(ImVec2(m.x, area.y0), ImVec2(m.x, area.y1), IM_COL32(200, 200, 200, 90));
      ImGui::BeginTooltip();
      const double x = t.x_at(m.x);
      for (const auto& l : lines) {
        if (!l.series || l.series->x.empty()) continue;
        const long i = nearest_index(l.series->x, x);
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(l.colour), "%s  step %.0f: %.6g", l.label.c_str(),
                           l.series->x[static_cast<std::size_t>(i)], l.series->y[static_cast<std::size_t>(i)]);
      }
      ImGui::EndTooltip();
    }
  }
  ImGui::PopID();
  return true;
}

bool colormap_combo(int* index) {
  const auto& names = colormap_names();
  bool changed = false;
  if (ImGui::BeginCombo("colour map", names[static_cast<std::size_t>(*index)].c_str())) {
    for (int i = 0; i < static_cast<int>(names.size()); ++i) {
      if (ImGui::Selectable(names[static_cast<std::size_t>(i)].c_str(), i == *index)) {
        changed = i != *index;
        *index = i;
      }
    }
    ImGui::EndCombo();
  }
  return changed;
}

bool model_controls(std::string& path, bool pending, const std::string& desc, const std::string& error) {
  bool open = false;
  ImGui::SetNextItemWidth(260);
  ImGui::InputTextWithHint("##model", "run directory or .safetensors", &path);
  ImGui::SameLine();
  if (ImGui::Button("Open model")) open = true;
  if (pending) ImGui::TextUnformatted("loading...");
  ImGui::TextWrapped("%s", desc.empty() ? "no model open" : desc.c_str());
  if (!error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", error.c_str());
  return open;
}


}  // namespace ijepa::gui
