#pragma once
// Run-health diagnostics (docs/training.md, "Run health"): computed at log steps on the batch at hand, no extra
// forward pass. The host's own sdk::StepMonitor, called through the same interface as a plugin's.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ijepa/sdk/monitor.hpp"

namespace ijepa::host {

// rankme(x [M, D]) -> exp of the entropy of the normalised singular values (Garrido et al. 2023, eps 1e-7): from
// 1 (every row the same direction) to min(M, D) (a flat spectrum).
double rankme(const at::Tensor& x);
// mean_dim_std(x [M, D]) -> the mean over dimensions of the standard deviation across rows of the L2-normalised
// rows (scale-free; 0 when every row is the same, about 1/sqrt(D) for random directions).
double mean_dim_std(const at::Tensor& x);
// positional_share(tokens [B, N, D]) -> the share of the tokens' variance that token position alone explains:
// sum over positions of the squared distance of the per-position mean to the global mean, over the total sum of
// squares around the global mean. 1: the features are a function of position only; about 1/B for random tokens.
double positional_share(const at::Tensor& tokens);

// The host's monitor. Metrics (all prefixed "health."):
//   rank_target, rank_pred       RankMe of the image-pooled target features [B, D] and of the mask-pooled predictions
//   std_target                   mean_dim_std of the pooled target features
//   positional_share             of the target tokens
//   pred_cos                     mean cosine between each predicted token and its (layer-normed) target token
//   grad_norm.<group>            L2 norm of the group's gradients
//   ema_distance                 ||context - target|| / ||target|| over the encoder parameters
class RunHealth final : public sdk::StepMonitor {
 public:
  sdk::Metrics observe(const sdk::StepView& view) const override;
};

// Warning lines when a metric crosses its documented threshold, each kind once per run:
//   positional_share > 0.9          the targets are mostly token position (predictable without the image)
//   rank_target < max(2, 0.25 x its first logged value)   a dimensional collapse (the 2 only when the first logged
//                                                          value was at least 2)
//   std_target < 0.1 x its first logged value              the features collapse to one point
class HealthWatch {
 public:
  std::vector<std::string> check(std::int64_t step, const sdk::Metrics& m);
  const std::vector<std::string>& fired() const { return fired_; }

 private:
  std::optional<double> first_rank_, first_std_;
  std::vector<std::string> fired_;  // kinds already warned about
};

}  // namespace ijepa::host
