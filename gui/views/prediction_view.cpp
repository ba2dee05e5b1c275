// Predictions: a sampled mask, context encoder -> predictor -> the layer-normed target encoder output; per-patch
// cosine and L2 error as heatmaps, and the target features beside the predicted ones in one PCA-to-RGB basis.
#include <algorithm>
#include <string>

#include <imgui.h>

#include "views/viewer.hpp"
#include "views/widgets.hpp"

namespace ijepa::gui {

void Viewer::draw_prediction() {
  ImGui::BeginChild("pred_controls", ImVec2(380, 0), true);
  if (model_controls(model_path_, model_pending_, model_.description, model_error_)) post_open_model(model_path_);
  ImGui::Separator();
  bool changed = data_controls();
  if (model_.ok) {
    ImGui::Separator();
    changed |= ImGui::Checkbox("the run's masker (else the mask lab's)", &pred_model_masker_);
    // The run's masker has the panel's own batch number (from --batch); the mask lab's is the lab's current batch.
    std::uint64_t& batch = pred_model_masker_ ? pred_batch_ : batch_number_;
    int b = static_cast<int>(batch);
    ImGui::SetNextItemWidth(120);
    if (ImGui::InputInt("mask batch", &b) && b >= 0) {
      batch = static_cast<std::uint64_t>(b);
      changed = true;
    }
    ImGui::SameLine();
    if (ImGui::Button("Resample")) {
      ++batch;
      changed = true;
    }
    colormap_combo(&colormap_);
    if (!model_.predictor) ImGui::TextColored(ImVec4(1, 0.6f, 0.3f, 1), "this model has no usable predictor");
  }
  if (changed) {
    post_prediction();
    if (!pred_model_masker_) post_masks();  // the lab's batch moved with it
  }
  ImGui::EndChild();

  ImGui::SameLine();
  ImGui::BeginChild("pred_view", ImVec2(0, 0), false);
  if (!pred_.error.empty()) ImGui::TextColored(ImVec4(1, 0.4f, 0.4f, 1), "%s", pred_.error.c_str());
  else if (pred_pending_) ImGui::TextUnformatted("computing...");
  else if (!model_.ok) ImGui::TextUnformatted("Open a run directory or checkpoint to see predictions.");
  const float side = std::min((ImGui::GetContentRegionAvail().x - 24) / 3.0f, 300.0f);
  const Colormap map = static_cast<Colormap>(colormap_);
  const bool have = pred_.error.empty() && !pred_.cosine.empty();

  ImGui::BeginGroup();
  ImGui::TextUnformatted("image, context and targets");
  const Rect r = image(textures_, "pred/image", pred_.image, pred_version_, true, side);
  if (have) mask_overlay(r, pred_.grid, pred_.context, pred_.targets, false);
  ImGui::EndGroup();
  capture_.image = r;
  capture_.grid = pred_.grid;
  capture_.context = pred_.context;
  capture_.targets = pred_.targets;
  capture_.ready = have && !pred_pending_;
  capture_.error = pred_.error;

  ColorizeStats cos_stats, l2_stats;
  RgbaImage cos_img, l2_img;
  if (have) {
    cos_img = colorize(pred_.cosine, pred_.grid.w, pred_.grid.h, map, -1.0, 1.0, &cos_stats);
    l2_img = colorize_auto(pred_.l2, pred_.grid.w, pred_.grid.h, map, &l2_stats);
  }
  ImGui::SameLine();
  ImGui::BeginGroup();
  ImGui::TextUnformatted("cosine similarity per target patch");
  image(textures_, "pred/cos/" + std::to_string(colormap_), cos_img, pred_version_, false, side);
  if (have) colour_bar(textures_, map, -1.0, 1.0, side);
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  ImGui::TextUnformatted("L2 error per target patch");
  image(textures_, "pred/l2/" + std::to_string(colormap_), l2_img, pred_version_, false, side);
  if (have) colour_bar(textures_, map, l2_stats.lo, l2_stats.hi, side);
  ImGui::EndGroup();

  if (have) {
    ImGui::Text("mean cosine %.4f, mean L2 %.4f over %zu target blocks (black: not a target patch)", pred_.mean_cosine,
                pred_.mean_l2, pred_.targets.size());
  }
  ImGui::Separator();
  ImGui::BeginGroup();
  ImGui::TextUnformatted("target features (PCA -> RGB)");
  image(textures_, "pred/pca_target", pred_.target_pca, pred_version_, false, side);
  ImGui::EndGroup();
  ImGui::SameLine();
  ImGui::BeginGroup();
  ImGui::TextUnformatted("predicted, same basis (grey: not predicted)");
  image(textures_, "pred/pca_pred", pred_.predicted_pca, pred_version_, false, side);
  ImGui::EndGroup();
  ImGui::EndChild();
}

}  // namespace ijepa::gui
