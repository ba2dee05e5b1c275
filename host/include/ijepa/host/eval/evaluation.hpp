#pragma once
// Frozen-feature evaluation: evaluator entries of an experiment (host keys + the plugin's config), the encoder of a
// run or checkpoint, and an Evaluation that extracts features once per setting and runs every evaluator on the
// trained encoder and on a randomly initialised one of the same architecture.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/config/evaluator_spec.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/eval/features.hpp"
#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

// One evaluator's result on the trained encoder, with the random-init baseline.
struct EvalResult {
  std::string evaluator;   // type
  std::string where;
  std::string features;    // last | last4 | tokens
  std::string encoder;     // target | context
  sdk::Metrics trained;
  sdk::Metrics random_init;  // empty when disabled
  std::int64_t train_n = 0, test_n = 0;
  double seconds = 0.0;
  nlohmann::json to_json() const;  // {"evaluator":..,"top1":..,"random_init":{..},"gain":{..},..}
};
// The numbers of an eval.jsonl record that describe the evaluation rather than a result: step, epoch, train_n,
// test_n, seconds (TensorBoard and the sweep report leave them out).
bool eval_bookkeeping_key(const std::string& key);
// The accuracies (top1, top5, top1_1pct, ...): the metrics with a gain over random init and a bootstrap interval.
inline bool is_accuracy(const std::string& metric) { return metric.rfind("top", 0) == 0; }
// The half-width of the label samples' 95 % t interval (util::sample_half) of an accuracy that is a mean over
// samples: low_shot with samples >= 2 writes "sd_<metric>" and "samples" beside it under the same `prefix` ("" in an
// eval record, "<evaluator>." or "<evaluator>.random_init." in a sweep's flattened metrics). 0 for any other.
double label_sample_half(const nlohmann::json& metrics, const std::string& prefix, const std::string& metric);

// An evaluator that failed in Evaluation::run (with `failed` given): its type, config location and one-line error.
struct EvalFailure {
  std::string evaluator, where, error;
};

// Runs evaluators on labelled train/test splits of a dataset.
class Evaluation {
 public:
  // data_cfg: the experiment's data section (train split for fitting, the held-out split for scoring).
  // Opens both splits and builds every evaluator now, so bad input fails before any work (one-line errors).
  Evaluation(const nlohmann::json& resolved, const std::vector<EvaluatorSpec>& specs, const Registry& registry,
             const sdk::BuildContext& ctx, const at::Device& device);

  // run(encoders, which) -> results of the evaluators with indices `which` on the given frozen encoders
  // ("target" / "context"; a spec names which one it reads). The random-init baseline is computed once per setting
  // and cached for the life of this object.
  // failed: where given, an evaluator whose own code fails (a PluginError of its plugin) is recorded there and the
  // others still run; without it the first failure is thrown.
  std::vector<EvalResult> run(const std::map<std::string, const Component<sdk::Encoder>*>& encoders,
                              const std::vector<std::size_t>& which, std::vector<EvalFailure>* failed = nullptr);
  const std::vector<EvaluatorSpec>& specs() const { return specs_; }
  // The images spec `i` reads: {train, test} (its limits applied to the splits' sizes).
  std::pair<std::int64_t, std::int64_t> images_of(std::size_t i) const;
  // Called after each batch of feature extraction: what ("target encoder, train split"), images done, of total.
  using Progress = std::function<void(const std::string& what, std::int64_t done, std::int64_t total)>;
  void on_progress(Progress p) { progress_ = std::move(p); }

 private:
  struct Split {
    Features train, test;
  };
  Split extract(const Component<sdk::Encoder>& enc, const EvaluatorSpec& s, const std::string& encoder_name);
  const Component<sdk::Encoder>& random_encoder();

  nlohmann::json resolved_;
  std::vector<EvaluatorSpec> specs_;
  std::vector<Component<sdk::Evaluator>> evaluators_;
  const Registry& registry_;
  sdk::BuildContext ctx_;
  at::Device device_;
  std::shared_ptr<Dataset> train_data_, test_data_;
  std::int64_t num_classes_ = 0;
  std::int64_t image_size_ = 0;
  Component<sdk::Encoder> random_;
  std::map<std::string, sdk::Metrics> random_cache_;  // spec key -> metrics
  Progress progress_;
};

// The encoder of a run directory or checkpoint file, ready for inference.
struct LoadedEncoder {
  Component<sdk::Encoder> encoder;
  nlohmann::json resolved;       // the experiment (or the checkpoint's recorded config), resolved
  std::string origin;            // the weights file
  std::int64_t step = -1;        // from the checkpoint metadata when known
  std::filesystem::path run_dir; // empty for a bare checkpoint
};
// load_encoder(path, which, registry, sets, config_file): path is a run directory (its latest checkpoint and
// config.resolved.json) or a .safetensors checkpoint (config from its "config" metadata, else the run directory it
// sits in, else config_file). which: "target" or "context". sets: --set assignments on the experiment (e.g.
// data.root=...). Throws ConfigError / SafetensorsError with one line naming the file and key.
// weights_out (optional) receives every tensor of the checkpoint file, for encoder_from() and other parts of the
// same model, so a caller that needs several parts reads the file once.
LoadedEncoder load_encoder(const std::filesystem::path& path, const std::string& which, const Registry& registry,
                           const std::vector<std::string>& sets, const std::string& config_file,
                           TensorMap* weights_out = nullptr);
// encoder_from(le, weights, which, registry): the "target" or "context" encoder of the model `le` was loaded from,
// built from le.resolved and the checkpoint tensors load_encoder returned (no second read of the file). Throws
// ConfigError naming le.origin when the checkpoint has no weights for it.
Component<sdk::Encoder> encoder_from(const LoadedEncoder& le, const TensorMap& weights, const std::string& which,
                                     const Registry& registry);

// The checkpoint group prefix of an encoder: "target" -> "target_encoder.", "context" -> "encoder.".
std::string encoder_prefix(const std::string& which);

}  // namespace ijepa::host
