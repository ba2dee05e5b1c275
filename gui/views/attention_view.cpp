// Attention: a run's or checkpoint's encoder, one block and head, the attention of a query patch (click on the
// image) as a colour-mapped overlay. The maps come through the encoder's ijepa.attention_maps/1 capability.
#include <algorithm>
#include <string>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "views/viewer.hpp"
#include "views/widgets.hpp"

namespace ijepa::gui {

void Viewer::draw_attention() {
  ImGui::BeginChild("att_controls", ImVec2(380, 0), true);
  if (model_controls(model_path_, model_pending_, model_.description, model_error_)) post_open_model(model_path_);
  ImGui::Separator();
  bool changed = data_controls();
  if (!option_error_.empty()) ImGui::TextColored(ImVec4(1.0f, 0.6f, 0.3f, 1.0f), "%s", option_error_.c_str());
  if (model_.ok) {
    ImGui::Separator();
    if (ImGui::BeginCombo("encoder", encoder_.c_str())) {
      for (const char* e : {"target", "context"}) {
        if (ImGui::Selectable(e, encoder_ == e)) {
          encoder_ = e;
          changed = true;
        }
      }
      ImGui::EndCombo();
    }
    changed |= ImGui::SliderInt("block", &block_, 0, std::max(0, model_.depth - 1));
    changed |= ImGui::SliderInt("head (-1 mean)", &head_, -1, std::max(0, model_.heads - 1));
    int q = static_cast<int>(query_);
    const std::int64_t gh = model_.patch_size > 0 ? model_.image_size / model_.patch_size : 1;
    if (ImGui::SliderInt("query patch", &q, 0, static_cast<int>(gh * gh - 1))) {
      query_ = q;
      changed = true;
    }
    ImGui::SliderFloat("overlay alpha", &overlay_alpha_, 0.0f, 1.0f);
    colormap_combo(&colormap_);
    ImGui::TextWrapped("Click the image to choose the query patch.");
  }
  if (changed) post_attention();
  ImGui::EndChild();

  ImGui::SameLine();
  ImGui::BeginChild("att_view", ImVec2(0, 0), false);
  if (!att_.error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", att_.error.c_str());
  else if (att_pending_) ImGui::TextUnformatted("computing...");
  else if (!model_.ok) ImGui::TextUnformatted("Open a run directory or checkpoint to see attention maps.");
  const float side = std::min(ImGui::GetContentRegionAvail().x * 0.6f, 512.0f);
  const Rect r = image(textures_, "att/image", att_.image, att_version_, true, side);
  capture_.image = r;
  capture_.grid = att_.grid;
  capture_.ready = att_.error.empty() && !att_pending_ && !att_.map.empty();
  capture_.error = att_.error;
  if (!att_.map.empty() && att_.grid.count() == static_cast<int>(att_.map.size())) {
    ColorizeStats cs;
    const Colormap map = static_cast<Colormap>(colormap_);
    const RgbaImage heat = colorize_auto(att_.map, att_.grid.w, att_.grid.h, map, &cs);
    overlay(textures_, "att/heat/" + std::to_string(colormap_), heat, att_version_, r, overlay_alpha_);
    if (att_.query >= 0 && att_.query < att_.grid.count()) {
      const Rect q = patch_rect(att_.grid, att_.query, r);
      ImGui::GetWindowDrawList()->AddRect(ImVec2(q.x0, q.y0), ImVec2(q.x1, q.y1), IM_COL32(255, 255, 255, 255), 0, 0, 2.0f);
    }
    ImGui::Text("block %d, %s, query patch %lld (row %lld, col %lld)", att_.block,
                att_.head < 0 ? "mean of heads" : ("head " + std::to_string(att_.head)).c_str(),
                static_cast<long long>(att_.query), static_cast<long long>(att_.query / std::max(1, att_.grid.w)),
                static_cast<long long>(att_.query % std::max(1, att_.grid.w)));
    colour_bar(textures_, map, cs.lo, cs.hi, side);
    if (ImGui::IsMouseClicked(0)) {
      const ImVec2 m = ImGui::GetIO().MousePos;
      if (auto p = patch_at(att_.grid, r, m.x, m.y)) set_attention_query(*p);
    }
  }
  ImGui::EndChild();
}

}  // namespace ijepa::gui
