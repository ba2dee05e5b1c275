#include "views/viewer.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include <imgui.h>

#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/host/log/logging.hpp"

namespace fs = std::filesystem;

namespace ijepa::gui {

Panel parse_panel(const std::string& name) {
  if (name == "mask") return Panel::mask;
  if (name == "attention") return Panel::attention;
  if (name == "prediction") return Panel::prediction;
  if (name == "runs") return Panel::runs;
  throw std::invalid_argument("unknown panel '" + name + "' (mask, attention, prediction, runs)");
}

const char* panel_name(Panel p) {
  switch (p) {
    case Panel::mask: return "mask";
    case Panel::attention: return "attention";
    case Panel::prediction: return "prediction";
    case Panel::runs: return "runs";
  }
  return "mask";
}

nlohmann::json CaptureInfo::to_json() const {
  return {{"panel", panel},
          {"image_rect", {image.x0, image.y0, image.x1, image.y1}},
          {"grid", {grid.h, grid.w}},
          {"context", context},
          {"targets", targets},
          {"ready", ready},
          {"error", error}};
}

namespace {

// "key=value" -> (key, value parsed as JSON, else the string).
std::pair<std::string, nlohmann::json> parse_set(const std::string& s) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--set expects key=value, got '" + s + "'");
  const std::string raw = s.substr(eq + 1);
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(raw);
  } catch (const std::exception&) {
    v = raw;
  }
  return {s.substr(0, eq), v};
}

// The run config a checkpoint file records (metadata "config"). read_safetensors maps the file and checks its header;
// the tensors point into the mapping, so the weights (GBs, maybe) are not read.
nlohmann::json checkpoint_config(const std::string& path) {
  host::StringMap meta;
  (void)host::read_safetensors(path, &meta);
  return nlohmann::json::parse(meta.at("config"));
}

}  // namespace

Viewer::Viewer(host::PluginHost& plugins, TextureCache& textures, ViewerOptions opts)
    : analysis_(plugins), textures_(textures), opts_(std::move(opts)) {
  requested_ = drawn_ = opts_.panel;
  seed_ = opts_.seed;
  batch_number_ = pred_batch_ = opts_.batch_number;
  image_index_ = opts_.image_index;
  image_size_ = opts_.image_size;
  patch_size_ = opts_.patch_size;
  block_ = opts_.block;
  head_ = opts_.head;
  query_ = opts_.query;
  if (opts_.stats_batches > 0) stats_batches_ = opts_.stats_batches;
  masker_types_ = analysis_.masker_types();
  // A run (or a checkpoint file, which records its run's config) opened without --masker: the mask lab starts from
  // the run's own masker, seed, batch size and patch grid, so what it shows is what trained the model (its --set keys
  // apply on top; --seed, --mask-batch-size, --image-size and --patch-size choose otherwise).
  nlohmann::json run_masker;
  {
    std::error_code ec;
    const bool run_dir = !opts_.run.empty() && classify(opts_.run) == DirKind::run;
    if (run_dir || (!opts_.run.empty() && fs::is_regular_file(opts_.run, ec))) {
      try {
        const nlohmann::json cfg = run_dir ? nlohmann::json::parse(std::ifstream(fs::path(opts_.run) /
                                                                                 "config.resolved.json"))
                                           : checkpoint_config(opts_.run);
        if (!opts_.masker_given) run_masker = cfg.at("components").at("masker");
        mask_batch_size_ = cfg.at("train").at("batch_size").get<std::int64_t>();
        if (!opts_.seed_given) seed_ = cfg.at("seed").get<std::uint64_t>();
        if (!opts_.grid_given) {
          image_size_ = cfg.at("data").at("image_size").get<std::int64_t>();
          patch_size_ = cfg.at("components").at("encoder").at("patch_size").get<std::int64_t>();
        }
      } catch (const std::exception&) {
        run_masker = nlohmann::json();  // an unreadable config: the model panels say why; the lab keeps its defaults
      }
    }
  }
  if (opts_.mask_batch_size > 0) mask_batch_size_ = opts_.mask_batch_size;
  // Mask statistics over batches of the lab's size (a run's train.batch_size: K_enc depends on it), unless given.
  if (opts_.stats_batch_size > 0) {
    stats_batch_size_ = opts_.stats_batch_size;
  } else if (mask_batch_size_ > 1) {
    stats_batch_size_ = static_cast<int>(std::min<std::int64_t>(mask_batch_size_, 4096));
  }
  try {
    if (run_masker.is_object() && run_masker.contains("type")) opts_.masker = run_masker["type"].get<std::string>();
    nlohmann::json cfg = run_masker.is_object() ? run_masker : analysis_.masker_defaults(opts_.masker);
    for (const auto& s : opts_.masker_sets) {
      auto [k, v] = parse_set(s);
      if (!cfg.contains(k)) throw std::invalid_argument("masker " + opts_.masker + " has no key '" + k + "'");
      cfg[k] = v;
    }
    masker_cfg_ = cfg;
  } catch (const std::exception& e) {
    mask_.error = e.what();
    masker_cfg_ = {{"type", opts_.masker}};
  }
  masker_json_ = masker_cfg_.dump(2);

  std::error_code ec;
  const DirKind kind = opts_.run.empty() ? DirKind::missing : classify(opts_.run);
  if (!opts_.run.empty() && !fs::exists(opts_.run, ec)) {
    throw std::invalid_argument("--run " + opts_.run + ": no such run directory, sweep directory or checkpoint");
  }
  if ((kind == DirKind::other || kind == DirKind::sweep) &&
      (opts_.panel == Panel::attention || opts_.panel == Panel::prediction)) {
    // A folder of runs (`ijepa train` writes runs/<name>/<time>) or a sweep: name the run to pass instead.
    std::string newest;
    const fs::path under = kind == DirKind::sweep ? fs::path(opts_.run) / "trials" : fs::path(opts_.run);
    for (const auto& e : fs::directory_iterator(under, ec)) {
      std::error_code e2;
      if (fs::exists(e.path() / "config.resolved.json", e2) && e.path().string() > newest) newest = e.path().string();
    }
    throw std::invalid_argument(
        "--run " + opts_.run + ": " + (kind == DirKind::sweep ? "a sweep directory, " : "") +
        "not a run directory (no config.resolved.json) or a checkpoint file, which the " + panel_name(opts_.panel) +
        " panel needs" +
        (newest.empty() ? std::string()
                        : std::string("; ") + (kind == DirKind::sweep ? "one of its trials" : "its newest run") +
                              " is " + newest));
  }
  if (!opts_.run.empty()) {
    if (kind == DirKind::run || fs::is_regular_file(opts_.run, ec)) model_path_ = opts_.run;
    runs_root_ = fs::is_regular_file(opts_.run, ec) ? "" : opts_.run;
  }
  if (runs_root_.empty()) runs_root_ = fs::current_path(ec).string();
  open_runs(runs_root_);
  if (kind == DirKind::run || kind == DirKind::sweep) {
    // A run selects itself; a sweep selects its own entry (listed first), which selects all of its trials.
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      if (runs_[i].kind == kind) {
        select_run(i, false);
        break;
      }
    }
  }

  data_spec_ = opts_.data;
  if (!data_spec_.empty()) post_open_data(data_spec_);
  if (!model_path_.empty()) post_open_model(model_path_);
  if (data_spec_.empty() && model_path_.empty()) {
    data_spec_ = "fashion_mnist";
    post_open_data(data_spec_);
  }
  if (mask_.error.empty()) post_masks();
  if (opts_.stats_batches > 0) post_stats();
}

Viewer::~Viewer() = default;

void Viewer::select(Panel p) {
  requested_ = p;
  select_pending_ = true;
}

bool Viewer::busy() const {
  return data_pending_ || model_pending_ || mask_pending_ || stats_pending_ || att_pending_ || pred_pending_ ||
         !worker_.idle();
}

void Viewer::wait_idle() { worker_.wait_idle(); }

MaskRequest Viewer::mask_request() const {
  MaskRequest r;
  r.masker = masker_cfg_;
  r.image_size = image_size_;
  r.patch_size = patch_size_;
  r.seed = seed_;
  r.batch_number = batch_number_;
  r.image_index = image_index_;
  r.batch_size = mask_batch_size_;
  return r;
}

void Viewer::post_open_data(const std::string& spec) {
  data_pending_ = true;
  worker_.post([this, spec] {
    DataInfo d;
    try {
      analysis_.open_data(spec, "train");
    } catch (const std::exception& e) {
      d.error = e.what();
    }
    d.count = analysis_.image_count();
    d.description = analysis_.data_description();
    data_slot_.publish(std::move(d));
  });
}

void Viewer::post_open_model(const std::string& path) {
  model_pending_ = true;
  if (data_spec_.empty()) data_pending_ = true;
  const bool want_data = data_spec_.empty();
  worker_.post([this, path, want_data] {
    ModelInfo m;
    try {
      analysis_.open_model(path);
      m.ok = true;
    } catch (const std::exception& e) {
      m.error = e.what();
    }
    if (analysis_.has_model()) {
      m.description = analysis_.model_description();
      m.image_size = analysis_.model_image_size();
      m.patch_size = analysis_.model_patch_size();
      m.depth = analysis_.model_depth();
      m.heads = analysis_.model_heads();
      m.masker = analysis_.model_masker();
      m.predictor = analysis_.has_predictor();
    }
    if (want_data) {
      // No data chosen: the run's own held-out split (its data section names the source).
      DataInfo d;
      try {
        if (m.ok && analysis_.image_count() == 0) analysis_.open_model_data("test");
      } catch (const std::exception& e) {
        d.error = std::string("the run's data: ") + e.what();
      }
      d.count = analysis_.image_count();
      d.description = analysis_.data_description();
      data_slot_.publish(std::move(d));
    }
    model_slot_.publish(std::move(m));
  });
}

void Viewer::post_masks() {
  mask_pending_ = true;
  const MaskRequest r = mask_request();
  worker_.post([this, r] { mask_slot_.publish(analysis_.sample_masks(r)); });
}

void Viewer::post_stats() {
  stats_pending_ = true;
  const MaskRequest r = mask_request();
  const std::int64_t batches = stats_batches_, bs = stats_batch_size_;
  worker_.post([this, r, batches, bs] { stats_slot_.publish(analysis_.mask_stats(r, batches, bs)); });
}

void Viewer::post_attention() {
  if (!model_.ok) return;
  att_pending_ = true;
  const std::int64_t idx = image_index_;
  const int block = block_, head = head_;
  const std::int64_t q = query_;
  const std::string enc = encoder_;
  worker_.post([this, idx, block, head, q, enc] { att_slot_.publish(analysis_.attention(idx, block, head, q, enc)); });
}

void Viewer::post_prediction() {
  if (!model_.ok) return;
  pred_pending_ = true;
  MaskRequest r = mask_request();  // the lab's masker, batch and image row
  if (pred_model_masker_) {
    r.masker = nullptr;
    r.batch_number = pred_batch_;
  }
  worker_.post([this, r] { pred_slot_.publish(analysis_.predict(r)); });
}

void Viewer::set_masker_config(const nlohmann::json& cfg) {
  masker_cfg_ = cfg;
  masker_json_ = cfg.dump(2);
  post_masks();
}

void Viewer::set_attention_query(std::int64_t q) {
  query_ = q;
  post_attention();
}

void Viewer::note_option(const std::string& msg) {
  std::cerr << "ijepa-viewer: " << msg << "\n";
  if (option_error_.empty()) option_error_ = msg;
}

void Viewer::collect() {
  if (auto d = data_slot_.take()) {
    data_pending_ = false;
    data_ = std::move(*d);
    data_error_ = data_.error;
    if (!options_checked_data_ && data_.error.empty() && data_.count > 0) {
      options_checked_data_ = true;
      if (opts_.image_index >= data_.count) {
        note_option("--index " + std::to_string(opts_.image_index) + ": the data has " + std::to_string(data_.count) +
                    " images (0.." + std::to_string(data_.count - 1) + "); showing image 0");
      }
    }
    if (image_index_ >= data_.count) image_index_ = 0;
  }
  if (auto m = model_slot_.take()) {
    model_pending_ = false;
    model_error_ = m->error;
    if (m->ok || !model_.ok) model_ = std::move(*m);
    if (model_.ok) {
      const std::int64_t gh = model_.patch_size > 0 ? model_.image_size / model_.patch_size : 0;
      if (!options_checked_model_) {
        options_checked_model_ = true;
        if (opts_.block >= model_.depth) {
          note_option("--block " + std::to_string(opts_.block) + ": the model has " + std::to_string(model_.depth) +
                      " blocks (0.." + std::to_string(model_.depth - 1) + "); showing the last");
        }
        if (opts_.head >= model_.heads) {
          note_option("--head " + std::to_string(opts_.head) + ": the model has " + std::to_string(model_.heads) +
                      " heads (0.." + std::to_string(model_.heads - 1) + ", or -1 for their mean); showing the mean");
        }
        if (opts_.query >= gh * gh) {
          note_option("--query " + std::to_string(opts_.query) + ": the model's grid has " + std::to_string(gh * gh) +
                      " patches (0.." + std::to_string(gh * gh - 1) + "); showing the centre patch");
        }
      }
      if (block_ < 0 || block_ >= model_.depth) block_ = model_.depth - 1;
      if (head_ >= model_.heads) head_ = -1;
      if (query_ < 0 || query_ >= gh * gh) query_ = (gh / 2) * gh + gh / 2;
      post_attention();
      post_prediction();
    }
  }
  if (auto f = mask_slot_.take()) {
    mask_pending_ = false;
    mask_ = std::move(*f);
    ++mask_version_;
  }
  if (auto f = stats_slot_.take()) {
    stats_pending_ = false;
    stats_ = std::move(*f);
    ++stats_version_;
  }
  if (auto f = att_slot_.take()) {
    att_pending_ = false;
    att_ = std::move(*f);
    ++att_version_;
  }
  if (auto f = pred_slot_.take()) {
    pred_pending_ = false;
    pred_ = std::move(*f);
    ++pred_version_;
  }
}

void Viewer::frame() {
  collect();
  capture_ = CaptureInfo{};
  const ImGuiIO& io = ImGui::GetIO();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus;
  ImGui::Begin("ijepa-viewer", nullptr, flags);
  if (ImGui::BeginTabBar("panels")) {
    const Panel order[4] = {Panel::mask, Panel::attention, Panel::prediction, Panel::runs};
    const char* titles[4] = {"Mask lab", "Attention", "Predictions", "Runs"};
    for (int i = 0; i < 4; ++i) {
      const ImGuiTabItemFlags f = (select_pending_ && requested_ == order[i]) ? ImGuiTabItemFlags_SetSelected : 0;
      if (ImGui::BeginTabItem(titles[i], nullptr, f)) {
        drawn_ = order[i];
        capture_.panel = panel_name(order[i]);
        switch (order[i]) {
          case Panel::mask: draw_mask_lab(); break;
          case Panel::attention: draw_attention(); break;
          case Panel::prediction: draw_prediction(); break;
          case Panel::runs: draw_runs(); break;
        }
        ImGui::EndTabItem();
      }
    }
    select_pending_ = false;
    ImGui::EndTabBar();
  }
  ImGui::End();
}

}  // namespace ijepa::gui
