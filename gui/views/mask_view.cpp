// The mask lab: any masker plugin, its config edited live, masks drawn over the image, statistics over batches.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "views/viewer.hpp"
#include "views/widgets.hpp"

namespace ijepa::gui {

bool Viewer::data_controls() {
  bool changed = false;
  ImGui::TextWrapped("Images: %s", data_.description.empty() ? "(opening...)" : data_.description.c_str());
  if (!data_error_.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", data_error_.c_str());
  ImGui::SetNextItemWidth(220);
  ImGui::InputTextWithHint("##data", "source, folder or image file", &data_spec_);
  ImGui::SameLine();
  if (ImGui::Button("Open data")) {
    post_open_data(data_spec_);
    changed = true;
  }
  int idx = static_cast<int>(image_index_);
  ImGui::SetNextItemWidth(120);
  if (ImGui::InputInt("image", &idx)) {
    idx = std::clamp(idx, 0, std::max<int>(0, static_cast<int>(data_.count) - 1));
    if (idx != image_index_) {
      image_index_ = idx;
      changed = true;
    }
  }
  ImGui::SameLine();
  if (ImGui::Button("Next image") && data_.count > 0) {
    image_index_ = (image_index_ + 1) % data_.count;
    changed = true;
  }
  return changed;
}

void Viewer::masker_editor() {
  bool changed = false;
  const std::string type = masker_cfg_.value("type", std::string());
  ImGui::SetNextItemWidth(200);
  if (ImGui::BeginCombo("masker", type.c_str())) {
    for (const auto& t : masker_types_) {
      if (ImGui::Selectable(t.c_str(), t == type)) {
        try {
          masker_cfg_ = analysis_.masker_defaults(t);
        } catch (const std::exception& e) {
          mask_.error = e.what();
        }
        changed = true;
      }
    }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  if (ImGui::Button("Defaults")) {
    try {
      masker_cfg_ = analysis_.masker_defaults(type);
    } catch (const std::exception& e) {
      mask_.error = e.what();
    }
    changed = true;
  }
  for (auto it = masker_cfg_.begin(); it != masker_cfg_.end(); ++it) {
    const std::string key = it.key();
    if (key == "type") continue;
    auto& v = it.value();
    ImGui::PushID(key.c_str());
    ImGui::SetNextItemWidth(170);
    if (v.is_boolean()) {
      bool b = v.get<bool>();
      if (ImGui::Checkbox(key.c_str(), &b)) {
        v = b;
        changed = true;
      }
    } else if (v.is_number_integer()) {
      int i = v.get<int>();
      if (ImGui::InputInt(key.c_str(), &i)) {
        v = i;
        changed = true;
      }
    } else if (v.is_number()) {
      double d = v.get<double>();
      if (ImGui::InputDouble(key.c_str(), &d, 0.01, 0.1, "%.4g")) {
        v = d;
        changed = true;
      }
    } else if (v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number()) {
      double d[2] = {v[0].get<double>(), v[1].get<double>()};
      if (ImGui::InputScalarN(key.c_str(), ImGuiDataType_Double, d, 2, nullptr, nullptr, "%.4g")) {
        v = {d[0], d[1]};
        changed = true;
      }
    } else if (v.is_string()) {
      std::string s = v.get<std::string>();
      if (ImGui::InputText(key.c_str(), &s, ImGuiInputTextFlags_EnterReturnsTrue)) {
        v = s;
        changed = true;
      }
    } else {
      ImGui::Text("%s = %s", key.c_str(), v.dump().c_str());
    }
    ImGui::PopID();
  }
  if (ImGui::TreeNode("JSON")) {
    if (ImGui::InputTextMultiline("##json", &masker_json_, ImVec2(300, 140))) {
      // applied with the button below, so half-typed JSON is not an error
    }
    if (ImGui::Button("Apply JSON")) {
      try {
        masker_cfg_ = nlohmann::json::parse(masker_json_);
        changed = true;
      } catch (const std::exception& e) {
        mask_.error = std::string("masker JSON: ") + e.what();
      }
    }
    ImGui::TreePop();
  }
  if (changed) {
    masker_json_ = masker_cfg_.dump(2);
    post_masks();
  }
}

void Viewer::draw_mask_lab() {
  ImGui::BeginChild("mask_controls", ImVec2(380, 0), true);
  const bool img_changed = data_controls();
  ImGui::Separator();
  bool changed = img_changed;
  int sizes[2] = {static_cast<int>(image_size_), static_cast<int>(patch_size_)};
  ImGui::SetNextItemWidth(170);
  if (ImGui::InputInt2("image / patch", sizes) && sizes[0] > 0 && sizes[1] > 0) {
    image_size_ = sizes[0];
    patch_size_ = sizes[1];
    changed = true;
  }
  int seed = static_cast<int>(seed_);
  ImGui::SetNextItemWidth(120);
  if (ImGui::InputInt("seed", &seed) && seed >= 0) {
    seed_ = static_cast<std::uint64_t>(seed);
    changed = true;
  }
  int batch = static_cast<int>(batch_number_);
  ImGui::SetNextItemWidth(120);
  if (ImGui::InputInt("batch", &batch) && batch >= 0) {
    batch_number_ = static_cast<std::uint64_t>(batch);
    changed = true;
  }
  ImGui::SameLine();
  if (ImGui::Button("Resample")) {
    ++batch_number_;
    changed = true;
  }
  ImGui::Checkbox("patch grid", &grid_lines_);
  ImGui::Separator();
  masker_editor();
  if (changed) post_masks();
  ImGui::Separator();
  ImGui::TextUnformatted("Statistics");
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("batches", &stats_batches_);
  ImGui::SetNextItemWidth(100);
  ImGui::InputInt("batch size", &stats_batch_size_);
  stats_batches_ = std::clamp(stats_batches_, 1, 10000);
  stats_batch_size_ = std::clamp(stats_batch_size_, 1, 4096);
  if (ImGui::Button("Compute statistics")) post_stats();
  if (stats_pending_) {
    ImGui::SameLine();
    ImGui::TextUnformatted("working...");
  }
  ImGui::EndChild();

  ImGui::SameLine();
  ImGui::BeginChild("mask_view", ImVec2(0, 0), false);
  if (!mask_.error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", mask_.error.c_str());
  else if (mask_pending_) ImGui::TextUnformatted("sampling...");
  else ImGui::Text("%s, batch %llu", mask_.masker.c_str(), static_cast<unsigned long long>(mask_.batch_number));
  const float side = std::min(ImGui::GetContentRegionAvail().x * 0.5f, 448.0f);
  const Rect r = image(textures_, "mask/image", mask_.image, mask_version_, true, side);
  if (mask_.error.empty()) mask_overlay(r, mask_.grid, mask_.context, mask_.targets, grid_lines_);
  capture_.image = r;
  capture_.grid = mask_.grid;
  capture_.context = mask_.context;
  capture_.targets = mask_.targets;
  capture_.ready = mask_.error.empty() && !mask_pending_ && mask_.image.width > 0;
  capture_.error = mask_.error;
  mask_legend(static_cast<int>(mask_.targets.size()));
  const double n = std::max(1, mask_.grid.count());
  ImGui::Text("grid %dx%d   K_enc %lld (%.1f %%)   K_pred %lld x %zu targets   fallbacks %lld   row %lld of a "
              "batch of %lld", mask_.grid.h, mask_.grid.w, static_cast<long long>(mask_.k_enc),
              100.0 * static_cast<double>(mask_.k_enc) / n, static_cast<long long>(mask_.k_pred),
              mask_.targets.size(), static_cast<long long>(mask_.fallbacks), static_cast<long long>(mask_.row),
              static_cast<long long>(mask_.batch_size));

  if (!stats_.error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "statistics: %s", stats_.error.c_str());
  const MaskStatsSummary& s = stats_.summary;
  if (s.samples > 0) {
    ImGui::Separator();
    ImGui::TextWrapped("%s over %lld batches, %lld images: context ratio mean %.3f [%.3f, %.3f]; K_enc mean %.1f [%lld, %lld]; "
                "K_pred mean %.1f; fallbacks %lld; patches never used %lld",
                stats_.masker.c_str(), static_cast<long long>(s.batches), static_cast<long long>(s.samples),
                s.mean_ratio, s.min_ratio, s.max_ratio, s.mean_k_enc, static_cast<long long>(s.min_k_enc),
                static_cast<long long>(s.max_k_enc), s.mean_k_pred, static_cast<long long>(s.fallbacks),
                static_cast<long long>(s.never_used));
    std::vector<float> hist(s.ratio_hist.begin(), s.ratio_hist.end());
    ImGui::PlotHistogram("context ratio (0..1)", hist.data(), static_cast<int>(hist.size()), 0, nullptr, 0.0f,
                         FLT_MAX, ImVec2(std::min(520.0f, ImGui::GetContentRegionAvail().x - 160), 90));
    const float hs = 200;
    ColorizeStats cs;
    const RgbaImage ctx = colorize(s.context_freq, s.grid.w, s.grid.h, Colormap::viridis, 0.0, 1.0, &cs);
    const RgbaImage tgt = colorize(s.target_freq, s.grid.w, s.grid.h, Colormap::viridis, 0.0, 1.0, &cs);
    ImGui::BeginGroup();
    ImGui::TextUnformatted("P(patch in context)");
    image(textures_, "mask/ctx_freq", ctx, stats_version_, false, hs);
    ImGui::EndGroup();
    ImGui::SameLine();
    ImGui::BeginGroup();
    ImGui::TextUnformatted("P(patch in a target)");
    image(textures_, "mask/tgt_freq", tgt, stats_version_, false, hs);
    ImGui::EndGroup();
    colour_bar(textures_, Colormap::viridis, 0.0, 1.0, 2 * hs);
  }
  ImGui::EndChild();
}

}  // namespace ijepa::gui
