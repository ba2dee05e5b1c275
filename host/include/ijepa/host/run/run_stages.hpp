#pragma once
// The named stages of `ijepa train` (run_training in trainer.cpp reads top-down through them, like the official
// train.py): the run's target directory (fresh or resumed), the step plan, the loss window read at sync points,
// the progress log (metrics.jsonl, console, status.json), checkpointing and the evaluation schedule.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/config/evaluator_spec.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/proc/process.hpp"
#include "ijepa/host/run/jepa_model.hpp"
#include "ijepa/host/run/run_dir.hpp"
#include "ijepa/host/run/run_health.hpp"
#include "ijepa/host/run/schedules.hpp"
#include "ijepa/host/run/trainer.hpp"

namespace ijepa::host {

// ---- the run's target ------------------------------------------------------------------------------------------
// Everything that can fail on bad input, checked before the run directory is touched: --resume against the recorded
// config and world size (the lock taken on rank 0), or a fresh --out that must not exist.
struct RunTarget {
  std::optional<Checkpoint> resume;  // the checkpoint to continue from (resume with one)
  proc::FileLock lock;               // rank 0 of a resumed run
};
RunTarget check_run_target(const nlohmann::json& resolved, const Registry& registry, const TrainOptions& opts,
                           int world, bool writer);

// Creates the fresh run directory (config, overrides, env, status; locked) or, resuming, cuts metrics.jsonl and
// eval.jsonl back to the checkpoint's step. Rank 0 only.
RunDir open_run_dir(const nlohmann::json& resolved, const PluginHost& host, const TrainOptions& opts,
                    std::int64_t start_step, std::int64_t end_step, proc::FileLock& lock);
nlohmann::json env_json(const PluginHost& host, const TrainOptions& opts);

// ---- the step plan -----------------------------------------------------------------------------------------------
struct StepPlan {
  std::int64_t ipe = 1;          // steps per epoch
  std::int64_t start = 0;        // first step (resume)
  std::int64_t end = 0;          // one past the last step: epochs * ipe, capped by train.max_steps
  std::int64_t epochs = 0;       // ceil(train.epochs)
  std::int64_t log_every = 1, ckpt_every = 0, keep_epochs = 0;
  bool log_due(std::int64_t done) const { return done % log_every == 0 || done == end; }
  bool epoch_end(std::int64_t done) const { return done % ipe == 0; }
  bool keep_epoch_copy(std::int64_t done) const;  // checkpoints/epoch_NNNN.safetensors due
  bool save_due(std::int64_t done) const;
  // The evaluators due after step `done` (known to every rank; rank 0 runs them).
  std::vector<std::size_t> evals_due(const std::vector<EvaluatorSpec>& specs, std::int64_t done) const;
};
StepPlan make_step_plan(const nlohmann::json& train, std::int64_t ipe, std::int64_t start);
// The official schedules (lr warm-up + cosine, wd cosine, EMA ramp) for a run of `ipe` steps per epoch.
Schedules make_schedules(const nlohmann::json& train, std::int64_t ipe);
// validate_train(resolved): the train keys' ranges (ConfigError naming the key), train.ema within [0, 1], and one
// batch of float images (train.batch_size x 3 x data.image_size²) within this machine's memory.
void validate_train(const nlohmann::json& resolved);
// train_warnings(train) -> one line per valid but probably unintended setting (a warm-up longer than the run, an lr
// schedule that rises, an EMA momentum that falls): trained as asked, but said (rank 0 logs them at the start).
std::vector<std::string> train_warnings(const nlohmann::json& train);
// init_from_file(train) -> the weights file train.init_from names (a checkpoint file, or a run directory's
// checkpoints/latest.safetensors); empty when the key is empty; ConfigError naming the key when there is none.
// Checked where a run starts afresh (`ijepa train` without --resume, on rank 0; the trainer), never on a resume.
std::filesystem::path init_from_file(const nlohmann::json& train);
// check_before_training(resolved, sets): what `ijepa train` refuses before it starts, for it and for every trial of a
// sweep when it is planned: the patch grid (experiment_context; a huge image is named as that, not as its batch), then
// validate_train. The values are the ones in force, so an error on a key a --set assigned names that --set.
// init_file: also that train.init_from names weights (where a run starts afresh; not for a resume).
void check_before_training(const nlohmann::json& resolved, const std::vector<std::string>& sets,
                           bool init_file = false);

// ---- losses read at sync points ----------------------------------------------------------------------------------
// The steps' losses (and, distributed, the agreed stop wishes) stay on the device until a sync point (a log step,
// a checkpoint, an evaluation, the end), where one host read takes them all: no step waits for the GPU. A non-finite
// loss is reported with its own step, before anything is written from the weights it produced.
class LossWindow {
 public:
  // The run's final loss is the mean of its last kFinalSteps losses (all of them in a shorter run), whatever
  // train.log_every is: the same figure for a run logged every step or every 50.
  static constexpr std::int64_t kFinalSteps = 10;
  // window: train.log_every, the steps a logged loss_avg averages.
  explicit LossWindow(std::int64_t window) : window_(window), keep_(std::max(window, kFinalSteps)) {}
  void push(std::int64_t step, double lr, const at::Tensor& loss, const at::Tensor& stop);
  // flush(last_checkpoint) reads every pending loss; TrainingError naming the step (1-based) of the first non-finite
  // one and what is kept: the checkpoint of step last_checkpoint (> 0), or none yet.
  void flush(std::int64_t last_checkpoint = 0);
  bool stop_seen() const { return stop_seen_; }
  double last() const { return last_; }
  // mean(): of the last train.log_every losses (fewer at the start); final_mean(): of the last kFinalSteps.
  double mean() const { return mean_of_last(window_); }
  std::int64_t mean_count() const { return std::min<std::int64_t>(window_, size()); }
  double final_mean() const { return mean_of_last(kFinalSteps); }
  std::int64_t final_count() const { return std::min<std::int64_t>(kFinalSteps, size()); }
  bool empty() const { return values_.empty(); }
  std::int64_t failed_step() const { return failed_step_; }  // -1 unless flush() threw
  // The losses the two means need (read at a sync point: nothing pending), kept in a checkpoint's trainer file as
  // "losses"; restore() puts them back on resume, so the first loss_avg after it and the final loss are those of an
  // uninterrupted run.
  std::vector<double> recent() const { return {values_.begin(), values_.end()}; }
  void restore(const std::vector<double>& losses);

 private:
  struct Pending {
    std::int64_t step;
    double lr;
    at::Tensor loss, stop;
  };
  std::int64_t size() const { return static_cast<std::int64_t>(values_.size()); }
  double mean_of_last(std::int64_t n) const;
  std::int64_t window_, keep_;
  std::vector<Pending> pending_;
  std::deque<double> values_;
  double last_ = 0.0;
  bool stop_seen_ = false;
  std::int64_t failed_step_ = -1;
};

// ---- progress ----------------------------------------------------------------------------------------------------
// metrics.jsonl records, the console line (a progress bar on a terminal) and status.json, at log steps.
class ProgressLog {
 public:
  ProgressLog(RunDir* run, const StepPlan& plan, std::int64_t images_per_step, bool quiet, nlohmann::json status);
  // A log step: the record, the line, the status.
  void log_step(std::int64_t done, std::int64_t epoch, const JepaModel::StepResult& r, const LossWindow& losses,
                std::int64_t images_skipped);
  void images(std::int64_t n) { imgs_since_log_ += n; }
  // Time spent outside training (evaluations) is excluded from images/s.
  void exclude(double seconds);
  void end_line() const;                      // ends the progress bar's line (before other output)
  nlohmann::json& status() { return status_; }
  void write_status() const;                  // rank 0
  double first_loss() const { return first_loss_; }
  std::int64_t first_loss_steps() const { return first_steps_; }  // how many losses first_loss() averages
  double seconds() const;                     // since the log started
  double excluded_seconds() const { return excluded_; }

 private:
  RunDir* run_;  // null on ranks > 0
  StepPlan plan_;
  std::int64_t images_per_step_;
  bool quiet_, tty_;
  nlohmann::json status_;
  std::chrono::steady_clock::time_point t0_, t_log_;
  std::int64_t imgs_since_log_ = 0;
  double first_loss_ = 0.0, excluded_ = 0.0;
  std::int64_t first_steps_ = 0;
  HealthWatch health_;
  bool first_window_done_ = false;
};
// "H:MM:SS", or "?" for a negative or non-finite time.
std::string eta_text(double seconds);

// ---- checkpoints -------------------------------------------------------------------------------------------------
class Checkpointer {
 public:
  Checkpointer(RunDir* run, const nlohmann::json& resolved, std::int64_t ipe, std::int64_t start_step);
  // save(model, step_done, epoch_copy, recent_losses): step_NNNNNNNN (+ epoch_NNNN.safetensors), the losses in the
  // trainer file as "losses" (LossWindow::recent; no default, so no call site can drop them); ranks > 0 only
  // remember the step.
  void save(const JepaModel& model, std::int64_t step_done, bool epoch_copy, const std::vector<double>& recent_losses);
  // restore_epoch_copy(step): on resume at a step whose epoch copy is due, makes the copy if a stop (kill -9, a full
  // disk) came between the step file and its copy; a no-op when the copy exists.
  void restore_epoch_copy(std::int64_t step);
  // check_run_dir(): throws when the run directory lost its config.resolved.json (removed or replaced while the run
  // trained), so a run in a deleted directory never ends "completed"; a no-op on ranks > 0.
  void check_run_dir() const;
  std::int64_t last_saved() const { return last_saved_; }

 private:
  void copy_epoch(std::int64_t step_done);
  RunDir* run_;
  std::string config_sha_, config_dump_;
  std::int64_t ipe_, last_saved_;
};

// ---- evaluations during training ---------------------------------------------------------------------------------
// Builds every evaluator (and opens its labelled splits) before the run directory exists, so bad input fails early;
// runs the due ones on rank 0 and appends their records to eval.jsonl.
class TrainingEvals {
 public:
  TrainingEvals(const nlohmann::json& resolved, const Registry& registry, const JepaModel& model, bool writer);
  const std::vector<EvaluatorSpec>& specs() const { return specs_; }
  // run(model, due, done, ipe, run, progress) -> seconds spent; records go to eval.jsonl, the log and status.
  double run(JepaModel& model, const std::vector<std::size_t>& due, std::int64_t done, std::int64_t ipe, RunDir& run,
             ProgressLog& progress);
  // catch_up(model, plan, run, progress): on resume, the evaluations due at the checkpoint's step that eval.jsonl does
  // not have (the run was killed between writing the checkpoint and evaluating it) run now, on exactly those weights.
  double catch_up(JepaModel& model, const StepPlan& plan, RunDir& run, ProgressLog& progress);
  const std::map<std::string, nlohmann::json>& last() const { return last_; }

 private:
  std::vector<EvaluatorSpec> specs_;
  std::unique_ptr<Evaluation> evaluation_;
  std::map<std::string, nlohmann::json> last_;
  std::map<std::string, std::string> labels_;  // where -> TensorBoard label
};

}  // namespace ijepa::host
