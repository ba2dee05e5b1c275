#pragma once
// The viewer's UI: four panels (mask lab, attention, predictions, runs) in one window with tabs. Owns the analysis
// worker; draws with ImGui only (textures come through TextureCache), so the whole UI runs headless in tests.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/analysis.hpp"
#include "analysis/worker.hpp"
#include "core/frames.hpp"
#include "core/latest_slot.hpp"
#include "core/run_reader.hpp"
#include "views/texture_cache.hpp"

namespace ijepa::gui {

enum class Panel { mask, attention, prediction, runs };
// parse_panel("mask"|"attention"|"prediction"|"runs") -> the panel; throws std::invalid_argument otherwise.
Panel parse_panel(const std::string& name);
const char* panel_name(Panel p);

struct ViewerOptions {
  std::string run;          // run directory, sweep directory or checkpoint (attention, predictions, runs)
  std::string data;         // data source, image folder or image file ('' = the run's data, else fashion_mnist)
  std::string masker = "multiblock";  // the mask lab's masker when masker_given, or when --run is not a run
  bool masker_given = false;          // --masker on the command line: else a run's own masker (and its grid)
  bool grid_given = false;            // --image-size or --patch-size on the command line
  std::int64_t mask_batch_size = 0;   // the batch the masks are drawn for (0: a --run run's train.batch_size, else 1)
  std::vector<std::string> masker_sets;  // key=value on the masker config
  std::uint64_t seed = 0;
  bool seed_given = false;            // --seed on the command line: else a --run run's own seed
  std::uint64_t batch_number = 0;
  std::int64_t image_index = 0;
  std::int64_t image_size = 224, patch_size = 16;
  int block = -1;            // attention block (-1: the last)
  int head = -1;             // attention head (-1: mean over heads)
  std::int64_t query = -1;   // attention query patch (-1: the centre patch)
  Panel panel = Panel::mask;
  int stats_batches = 0;     // > 0: compute mask statistics at start-up over this many batches
  int stats_batch_size = 0;  // 0: the lab's batch size (a --run run's train.batch_size), else 64
};

// What the mask/prediction panel drew last frame, in screen pixels (for the screenshot test and `--screenshot`).
struct CaptureInfo {
  std::string panel;
  Rect image;                                   // where the image was drawn
  Grid grid;
  std::vector<std::int64_t> context;
  std::vector<std::vector<std::int64_t>> targets;
  bool ready = false;                           // the panel shows a result (not "working..." or an error)
  std::string error;
  nlohmann::json to_json() const;
};

class Viewer {
 public:
  Viewer(host::PluginHost& plugins, TextureCache& textures, ViewerOptions opts);
  ~Viewer();
  Viewer(const Viewer&) = delete;
  Viewer& operator=(const Viewer&) = delete;

  // frame(): the whole UI for one frame, between ImGui::NewFrame() and ImGui::Render(); collects finished work.
  void frame();
  void select(Panel p);
  Panel drawn_panel() const { return drawn_; }
  // busy(): analysis work is queued or running, or results wait to be collected by the next frame().
  bool busy() const;
  void wait_idle();
  const CaptureInfo& capture() const { return capture_; }
  // Messages shown in the panels (errors of the last operations), for tests.
  std::string mask_error() const { return mask_.error; }
  std::string model_error() const { return model_error_; }
  // A command-line option out of the range of what opened (--block 7 on a 2-block model, --index past the data):
  // shown instead of the nearest valid value, and the screenshot's error.
  std::string option_error() const { return option_error_; }
  std::string data_error() const { return data_error_; }
  const AttentionFrame& attention_frame() const { return att_; }
  const PredictionFrame& prediction_frame() const { return pred_; }
  const MaskFrame& mask_frame() const { return mask_; }
  const MaskStatsFrame& stats_frame() const { return stats_; }
  std::size_t runs_listed() const { return runs_.size(); }
  std::size_t runs_selected() const { return selected_.size(); }
  // set_masker_config(cfg): replaces the mask lab's masker config (as editing it would) and resamples.
  void set_masker_config(const nlohmann::json& cfg);
  void set_attention_query(std::int64_t q);
  void open_runs(const std::string& root);
  void select_run(std::size_t index, bool add);

 private:
  struct DataInfo {
    std::int64_t count = 0;
    std::string description, error;
  };
  struct ModelInfo {
    bool ok = false;
    std::string description, error;
    std::int64_t image_size = 0, patch_size = 0;
    int depth = 0, heads = 0;
    nlohmann::json masker;
    bool predictor = false;
  };

  void collect();
  void draw_mask_lab();
  void draw_attention();
  void draw_prediction();
  void draw_runs();
  void masker_editor();
  bool data_controls();  // true when the image changed

  void post_open_data(const std::string& spec);
  void post_open_model(const std::string& path);
  void post_masks();
  void post_stats();
  void post_attention();
  void post_prediction();
  MaskRequest mask_request() const;

  Analysis analysis_;
  TextureCache& textures_;
  ViewerOptions opts_;
  Panel requested_ = Panel::mask, drawn_ = Panel::mask;
  bool select_pending_ = true;
  bool data_pending_ = false, model_pending_ = false;

  // data
  std::string data_spec_;
  DataInfo data_;
  std::string data_error_;
  std::int64_t image_index_ = 0;
  // mask lab
  std::vector<std::string> masker_types_;
  nlohmann::json masker_cfg_;
  std::string masker_json_;  // the raw JSON editor
  std::uint64_t seed_ = 0, batch_number_ = 0;
  std::int64_t image_size_ = 224, patch_size_ = 16;
  int stats_batches_ = 50, stats_batch_size_ = 64;
  bool grid_lines_ = true;
  MaskFrame mask_;
  MaskStatsFrame stats_;
  std::uint64_t mask_version_ = 0, stats_version_ = 0;
  bool mask_pending_ = false, stats_pending_ = false;
  // model
  std::string model_path_;
  ModelInfo model_;
  std::string model_error_;
  std::string option_error_;
  std::int64_t mask_batch_size_ = 1;
  void note_option(const std::string& msg);
  bool options_checked_model_ = false, options_checked_data_ = false;
  std::string encoder_ = "target";
  int block_ = -1, head_ = -1;
  std::int64_t query_ = -1;
  float overlay_alpha_ = 0.6f;
  int colormap_ = 0;
  AttentionFrame att_;
  PredictionFrame pred_;
  std::uint64_t att_version_ = 0, pred_version_ = 0, pred_batch_ = 0;
  bool att_pending_ = false, pred_pending_ = false, pred_model_masker_ = true;
  // runs
  std::string runs_root_;
  std::vector<RunEntry> runs_;
  std::vector<std::size_t> selected_;
  std::vector<std::unique_ptr<RunReader>> readers_;
  std::vector<nlohmann::json> summary_rows_;
  std::vector<std::string> summary_problems_;
  bool live_ = true, log_loss_ = true;
  double last_poll_ = -1;
  std::string eval_metric_;
  std::string extra_metric_;  // the runs panel's fifth plot: any other metrics.jsonl key

  CaptureInfo capture_;
  LatestSlot<DataInfo> data_slot_;
  LatestSlot<ModelInfo> model_slot_;
  LatestSlot<MaskFrame> mask_slot_;
  LatestSlot<MaskStatsFrame> stats_slot_;
  LatestSlot<AttentionFrame> att_slot_;
  LatestSlot<PredictionFrame> pred_slot_;
  Worker worker_;  // last: joined before the slots and the analysis go away
};

}  // namespace ijepa::gui
