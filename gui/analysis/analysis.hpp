#pragma once
// The viewer's producer side (no GL, no ImGui): images from any data source or a file, masks from any masker
// plugin, and a trained model (run directory or checkpoint) for attention maps and predictions. Everything runs
// on the caller's thread (the viewer calls it from its worker); results are plain frames (core/frames.hpp).
// Bad input never escapes as an exception from the frame builders: it comes back in frame.error.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "core/frames.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"

namespace ijepa::gui {

struct MaskRequest {
  nlohmann::json masker;           // {"type": ..., keys...}
  std::int64_t image_size = 224;   // S
  std::int64_t patch_size = 16;    // p
  std::uint64_t seed = 0;          // the masker's run seed
  std::uint64_t batch_number = 0;  // which batch to sample (deterministic in seed and batch number)
  std::int64_t image_index = 0;
  // The batch the masks are drawn for, as training draws them (a multi-block context is cut to the batch's smallest
  // K_enc): image_index % batch_size is the row shown.
  std::int64_t batch_size = 1;
};

class Analysis {
 public:
  explicit Analysis(host::PluginHost& plugins);
  ~Analysis();

  // --- images -------------------------------------------------------------------------------------------
  // open_data(spec): a data source name (fashion_mnist, cifar10_jpeg, imagenette, synthetic), an image folder
  // (class sub-folders, or train/ and val/ inside), or an image file. Throws a one-line std::runtime_error.
  void open_data(const std::string& spec, const std::string& split = "train");
  // open_data_config(data): an experiment's data section (e.g. a run's), split "train" or "test".
  void open_data_config(const nlohmann::json& data, const std::string& split = "train");
  std::int64_t image_count() const;
  std::string data_description() const;
  // image(index, size) -> {display RGBA S x S, normalised float [3, S, S]} through the evaluation transform.
  // Throws (one line, naming the file) for an image that fails to decode.
  std::pair<RgbaImage, at::Tensor> image(std::int64_t index, std::int64_t size) const;

  // --- maskers ------------------------------------------------------------------------------------------
  std::vector<std::string> masker_types() const;
  nlohmann::json masker_defaults(const std::string& type) const;  // the plugin's defaults with "type"
  MaskFrame sample_masks(const MaskRequest& req) const;
  // mask_stats(req, batches, batch_size): batches req.batch_number .. + batches - 1, every image of each.
  MaskStatsFrame mask_stats(const MaskRequest& req, std::int64_t batches, std::int64_t batch_size) const;

  // --- a trained model ----------------------------------------------------------------------------------
  // open_model(path): run directory or .safetensors checkpoint (the encoder must load; the predictor is optional:
  // without it only attention works). Throws a one-line error; the previous model stays open then.
  void open_model(const std::string& path);
  // open_model_data(split): the open model's own data section (its run's dataset), "train" or "test".
  void open_model_data(const std::string& split);
  bool has_model() const;
  bool has_predictor() const;
  std::string model_description() const;
  std::int64_t model_image_size() const;
  std::int64_t model_patch_size() const;
  int model_depth() const;
  int model_heads() const;
  nlohmann::json model_masker() const;  // the masker of the model's experiment
  // attention(index, block, head (-1: mean over heads), query, encoder "target"|"context").
  AttentionFrame attention(std::int64_t image_index, int block, int head, std::int64_t query,
                           const std::string& encoder) const;
  // predict(req): masks of req (req.masker null: the model's masker; sizes: the model's), context encoder ->
  // predictor -> per-patch error against the layer-normed target encoder output (spec §4).
  PredictionFrame predict(const MaskRequest& req) const;

 private:
  struct Model;
  struct Images;
  host::PluginHost& plugins_;
  std::unique_ptr<Images> images_;
  std::unique_ptr<Model> model_;
};

// to_rgba(normalised [3, S, S]) -> the displayable image (ImageNet normalisation undone, clamped).
RgbaImage to_rgba(const at::Tensor& normalised);
// pca_rgb(features [N, D], project [M, D], grid) -> {RGB image of features, RGB of project on the same basis and
// scaling}: the top three principal components of `features`, each scaled to [0, 255] by the range of features.
std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>> pca_rgb(const at::Tensor& features,
                                                                       const at::Tensor& project);

}  // namespace ijepa::gui
