#pragma once
// The models and optimisation state of one I-JEPA run (context encoder, EMA target encoder, predictor, loss,
// AdamW with four groups, official schedules), independent of files and data; and the I-JEPA forward itself.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/dist/grad_reducer.hpp"
#include "ijepa/host/dist/process_group.hpp"
#include "ijepa/host/hosting/registry.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/run/adamw.hpp"
#include "ijepa/host/run/run_health.hpp"
#include "ijepa/host/run/schedules.hpp"

namespace ijepa::host {

// The I-JEPA forward (spec §4): the target encoder on the whole image (no grad; skipped when with_target is false),
// the context encoder on the context masks, the predictor from the context tokens to the target masks' positions.
// target_tokens: [B, N, D] before the loss's layer norm and gather; prediction: [B * npred, K_pred, D'].
struct JepaForward {
  at::Tensor target_tokens;
  at::Tensor prediction;
};
JepaForward jepa_forward(const Component<sdk::Encoder>& target, const Component<sdk::Encoder>& context,
                         const Component<sdk::Predictor>& predictor, const at::Tensor& images,
                         const std::vector<at::Tensor>& masks_ctx, const std::vector<at::Tensor>& masks_tgt,
                         bool with_target);

// Thrown when training must stop (non-finite loss, ...); the run directory keeps its last good checkpoint.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// check_model_config(resolved, registry): builds components.encoder, .predictor and .loss once on the CPU as JepaModel
// does (one encoder, no target copy, no optimiser, no device) and runs its checks on them (the patch grid, the
// predictor's width against the loss's), so a config whose model cannot be built fails here: `ijepa sweep`'s plan
// checks every trial's model before the first trial runs. Throws what JepaModel would (ConfigError, PluginError).
void check_model_config(const nlohmann::json& resolved, const Registry& registry);

// The models and optimisation state of one I-JEPA run, independent of files (tests use it directly).
class JepaModel {
 public:
  // Builds the encoders, predictor, loss and optimiser from a resolved config (see resolve_experiment). Seeds torch
  // before init. The masker is the data side's (TrainingData, make_rank_masker): the batch brings its masks.
  JepaModel(const nlohmann::json& resolved, const Registry& registry);

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
  // observe: run the step monitors (the host's run health, then any a component answers "ijepa.step_monitor/1"
  // with) after backward; their metrics go to StepResult::extra. The trainer asks at log steps.
  StepResult train_step(const Batch& batch, std::int64_t step, bool stop_wanted = false, bool observe = false);
  // One optimisation step over k micro-batches (train.accum_steps): the gradients of loss_j / k are accumulated, so
  // k micro-batches of B equal one batch of kB with the same images and masks; distributed, the gradients are reduced
  // once, in the last micro-batch's backward. The reported loss is the mean over the micro-batches. Then the
  // global-norm clip (train.clip_grad > 0; the norm before clipping is extra["grad_norm"]), AdamW, EMA.
  StepResult train_step(const std::vector<Batch>& micro, std::int64_t step, bool stop_wanted = false,
                        bool observe = false);
  std::int64_t accum_steps() const { return accum_; }
  // The loss for given images and masks without updating anything (fp32 on CPU / autocast on CUDA).
  double eval_loss(const at::Tensor& images, const sdk::MaskSet& masks);

  TensorMap weights() const;                        // encoder.*, predictor.*, target_encoder.*
  TensorMap trainer_state() const;                  // optimiser state
  void load(const TensorMap& weights, const TensorMap& trainer, std::int64_t step, const std::string& origin);
  // init_from(weights, origin) -> what was loaded, in words: a new run starting from another run's or a converted
  // official checkpoint's weights (train.init_from; the optimiser and the schedules start afresh). encoder.* and
  // target_encoder.* where present — a file with one of them gives both, the target starting as the encoder's copy
  // as officially —, predictor.* where present (else this run's own initialisation). std::runtime_error naming the
  // tensor on a missing, unexpected or misshapen one.
  std::string init_from(const TensorMap& weights, const std::string& origin);

  Component<sdk::Encoder>& encoder() { return encoder_; }
  Component<sdk::Encoder>& target_encoder() { return target_; }
  Component<sdk::Predictor>& predictor() { return predictor_; }
  const Schedules& schedules() const { return sched_; }
  void set_schedules(const Schedules& s) { sched_ = s; }
  const sdk::BuildContext& context() const { return ctx_; }  // with the encoder's width, heads and depth
  const nlohmann::json& config() const { return cfg_; }        // the resolved config it was built from
  const at::Device& device() const { return device_; }
  std::int64_t parameter_count(bool trainable_only) const;

 private:
  void ema_update(double m);
  // jepa_forward and the loss for one batch (autocast on CUDA); grad as the caller sets.
  sdk::LossOutput forward_loss(const at::Tensor& images, const std::vector<at::Tensor>& mctx,
                               const std::vector<at::Tensor>& mtgt, JepaForward* keep = nullptr);
  at::Tensor clip_gradients();  // -> the global norm before clipping (0-dim, on the device)
  // loss.backward(); autograd's "backward through the graph a second time" gets the components named.
  void backward(const at::Tensor& loss) const;
  sdk::Metrics observe_step(std::int64_t step, const JepaForward& f, const std::vector<at::Tensor>& mctx,
                       const std::vector<at::Tensor>& mtgt) const;

  nlohmann::json cfg_;
  sdk::BuildContext ctx_;
  Component<sdk::Encoder> encoder_;
  Component<sdk::Encoder> target_;
  Component<sdk::Predictor> predictor_;
  Component<sdk::Loss> loss_;
  std::unique_ptr<AdamW> opt_;
  std::vector<at::Tensor> enc_params_, tgt_params_;
  struct Monitor {
    const sdk::StepMonitor* monitor;
    std::string plugin_id, type;  // the component that answered the capability; empty for the host's run health
  };
  std::vector<Monitor> monitors_;  // the host's run health first, then the components'
  RunHealth health_;
  std::shared_ptr<ProcessGroup> pg_;
  std::unique_ptr<GradReducer> reducer_;
  Schedules sched_;
  at::Device device_{at::kCPU};
  bool autocast_ = false;
  std::int64_t accum_ = 1;
  double clip_ = 0.0;
  std::vector<at::Tensor> trainable_;  // encoder + predictor parameters the optimiser updates
};

}  // namespace ijepa::host
