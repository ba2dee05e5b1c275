#pragma once
// ijepa train: one run from a resolved config into a run directory, as named stages (run_stages.hpp): the run's
// target, the data side, the model, evaluators, the step loop with its logging, checkpoints and evaluations.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/dist/process_group.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/run/jepa_model.hpp"

namespace ijepa::host {

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
  double epochs = 0.0;  // steps / steps per epoch (a run stopped within an epoch has a fraction)
  std::optional<double> final_loss;  // mean of the run's last LossWindow::kFinalSteps losses (none: no step taken)
  std::optional<double> first_loss;  // mean of the first log window (none: no step taken)
  std::int64_t final_loss_steps = 0, first_loss_steps = 0;  // how many losses each averages
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
