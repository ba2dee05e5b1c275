#pragma once
// low_shot: the linear probe trained on a seeded per-class sample of a fraction of the training labels.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/evaluator.hpp"
#include "linear_probe.hpp"

namespace ijepa::plugins::eval_probes {

struct LowShotOptions {
  LinearProbeOptions probe;                  // batchnorm, l2_grid, holdout, max_iter (as linear_probe)
  std::vector<double> fractions{0.01, 0.1};  // label fractions, each in (0, 1]
  std::int64_t samples = 1;                  // independent per-class samples per fraction (metrics: their mean)

  static LowShotOptions from_json(const nlohmann::json& cfg);
  static nlohmann::json defaults();
  static nlohmann::json doc();
};

// sample_per_class(labels [N] int64, C, fraction, seed) -> ascending int64 row indices: for each class with n > 0
// rows, max(1, round(fraction * n)) of them (at most n), the first ones of a seeded per-class permutation. The
// permutation depends only on (labels, seed, draw), so a smaller fraction's sample is part of a larger one's; `draw`
// numbers the independent samples of the `samples` option (draw 0 is the one sample of samples = 1).
at::Tensor sample_per_class(const at::Tensor& labels, std::int64_t num_classes, double fraction, std::uint64_t seed,
                            std::int64_t draw = 0);

// fraction_suffix(0.01) -> "1pct", 0.1 -> "10pct", 0.005 -> "0.5pct": the percentage with up to 2 decimals,
// trailing zeros trimmed.
std::string fraction_suffix(double fraction);

class LowShot final : public sdk::Evaluator {
 public:
  explicit LowShot(LowShotOptions o) : opts_(std::move(o)) {}
  // evaluate -> for each fraction (suffix S = fraction_suffix): top1_S, top5_S (num_classes > 5), n_S (rows
  // sampled), l2_S (the chosen lambda), converged_S; with samples > 1 the accuracies are the means over the samples,
  // sd_top1_S their standard deviation, l2_S the median chosen lambda, converged_S 1 when every final fit converged
  sdk::Metrics evaluate(const sdk::EvalInput& in) override;
  bool wants_tokens() const override { return false; }
  // Takes its features on the evaluation device (a GPU too): ijepa.device_features/1.
  const void* capability(std::string_view id) const noexcept override {
    return id == sdk::kDeviceFeaturesId ? this : nullptr;
  }

 private:
  LowShotOptions opts_;
};

}  // namespace ijepa::plugins::eval_probes
