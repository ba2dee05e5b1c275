#pragma once
// The I-JEPA trainer: context path, EMA target path, loss, AdamW with four groups, official schedules,
// checkpoints and resume, metrics and status in a run directory.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/loader.hpp"
#include "dist/grad_reducer.hpp"
#include "dist/process_group.hpp"
#include "io/checkpoint.hpp"
#include "plugins/plugin_loader.hpp"
#include "run/adamw.hpp"
#include "run/run_dir.hpp"
#include "run/schedules.hpp"

namespace ijepa::host {

// Thrown when training must stop (non-finite loss, ...); the run directory keeps its last good checkpoint.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The models and optimisation state of one I-JEPA run, independent of files (tests use it directly).
class JepaModel {
 public:
  // Builds every component from a resolved config (see resolve_experiment). Seeds torch before init. rank: the
  // distributed rank; the masker of rank r > 0 gets its own seed (rank 0 keeps the run seed, so a single process is
  // rank 0 of one).
  JepaModel(const nlohmann::json& resolved, const Registry& registry, int rank = 0);

  // distribute(pg, bucket_bytes): from now on gradients are averaged over the group's ranks (bucketed, overlapped
  // with backward) and the loss reported by train_step is the mean over ranks. Broadcasts rank 0's weights (context
  // encoder, predictor, target encoder) so every rank starts identical.
  void distribute(std::shared_ptr<ProcessGroup> pg, std::int64_t bucket_bytes);
  const GradReducer* reducer() const { return reducer_.get(); }

  struct StepResult {
    // The step's loss, detached, a 0-dim double on the training device (distributed: the mean over ranks). Nothing
    // in the step reads it on the host, so a CUDA step queues its work without waiting for the GPU; the trainer reads
    // a window of them at once (see run_training) and stops on a non-finite one.
    at::Tensor loss;
    // Distributed only: 0-dim on the collective's device, > 0 when some rank asked to stop (agreed by every rank in
    // the loss all-reduce). Undefined for a single process.
    at::Tensor stop;
    double lr = 0.0, wd = 0.0, ema_m = 0.0;
    std::int64_t k_enc = 0, k_pred = 0;
    sdk::Metrics extra;
    double loss_value() const { return loss.item<double>(); }  // reads the loss now (a synchronisation on CUDA)
  };
  // One optimisation step on a batch. `step` is 0-based; schedules use s = step + 1 (official order).
  // stop_wanted: this process wants to stop; distributed, the wish rides on the loss all-reduce (one collective per
  // step for both), so every rank reads the same StepResult::stop.
  StepResult train_step(const Batch& batch, std::int64_t step, bool stop_wanted = false);
  // The loss for given images and masks without updating anything (fp32 on CPU / autocast on CUDA).
  double eval_loss(const at::Tensor& images, const sdk::MaskSet& masks);

  TensorMap weights() const;                        // encoder.*, predictor.*, target_encoder.*
  TensorMap trainer_state() const;                  // optimiser state
  void load(const TensorMap& weights, const TensorMap& trainer, std::int64_t step, const std::string& origin);

  Component<sdk::Masker>& masker() { return masker_; }
  Component<sdk::Encoder>& encoder() { return encoder_; }
  Component<sdk::Encoder>& target_encoder() { return target_; }
  Component<sdk::Predictor>& predictor() { return predictor_; }
  const Schedules& schedules() const { return sched_; }
  void set_schedules(const Schedules& s) { sched_ = s; }
  const sdk::BuildContext& context() const { return ctx_; }
  const at::Device& device() const { return device_; }
  std::int64_t parameter_count(bool trainable_only) const;

 private:
  void ema_update(double m);
  // Target path, context path, predictor and loss for one batch (autocast on CUDA); grad as the caller sets.
  sdk::LossOutput forward_loss(const at::Tensor& images, const std::vector<at::Tensor>& mctx,
                               const std::vector<at::Tensor>& mtgt);

  nlohmann::json cfg_;
  sdk::BuildContext ctx_;
  Component<sdk::Masker> masker_;
  Component<sdk::Encoder> encoder_;
  Component<sdk::Encoder> target_;
  Component<sdk::Predictor> predictor_;
  Component<sdk::Loss> loss_;
  std::unique_ptr<AdamW> opt_;
  std::vector<at::Tensor> enc_params_, tgt_params_;
  std::shared_ptr<ProcessGroup> pg_;
  std::unique_ptr<GradReducer> reducer_;
  Schedules sched_;
  at::Device device_{at::kCPU};
  bool autocast_ = false;
};

struct TrainOptions {
  std::filesystem::path out;          // run directory
  bool resume = false;
  std::vector<std::string> argv;      // recorded in env.json
  std::vector<std::string> sets;      // --set assignments, recorded in overrides.json
  std::string config_path;            // the experiment file
  bool quiet = false;                 // no progress output
  // Distributed training: the process group (null: one process). Rank 0 alone writes the run directory; every rank
  // reads the checkpoint it resumes from.
  std::shared_ptr<ProcessGroup> pg;
  std::int64_t bucket_bytes = 25 << 20;  // gradient bucket size (the DDP default, 25 MiB)
};

struct TrainSummary {
  std::filesystem::path run_dir;
  std::int64_t steps = 0;
  std::int64_t epochs = 0;
  double final_loss = 0.0;      // mean of the last log window
  double first_loss = 0.0;      // mean of the first log window
  double seconds = 0.0;
  double images_per_s = 0.0;
  std::string state;            // completed | interrupted
  double eval_seconds = 0.0;    // time spent in evaluators (not counted in images_per_s)
  std::map<std::string, nlohmann::json> evals;  // the last eval.jsonl record of each evaluator, by its config path
};

// Runs (or resumes) a training run into opts.out. Throws ConfigError / DataError / TrainingError with one line.
TrainSummary run_training(const nlohmann::json& resolved, PluginHost& host, const TrainOptions& opts);

// Set by SIGINT/SIGTERM handlers: the trainer checkpoints and stops at the next step boundary.
std::atomic<bool>& stop_requested();

}  // namespace ijepa::host
