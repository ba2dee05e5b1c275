#pragma once
// linear_probe: multinomial logistic regression (L2 on the weights, full-batch L-BFGS, float32) on frozen
// pooled features; the penalty is chosen on a stratified held-out part of the training split.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/evaluator.hpp"

namespace ijepa::plugins::eval_probes {

// lambda used when nothing can be held out to choose one (every class has a single training row) and l2_grid has
// several values.
inline constexpr double kFallbackL2 = 1e-4;
// BatchNorm1d (no affine, eval mode) epsilon of the batchnorm option.
inline constexpr double kBatchNormEps = 1e-5;

struct LinearProbeOptions {
  bool batchnorm = true;                                      // standardise with the training split's statistics
  std::vector<double> l2_grid{1e-6, 1e-5, 1e-4, 1e-3, 1e-2};  // candidate lambda (>= 0)
  double holdout = 0.1;                                       // held-out fraction for choosing lambda, in [0, 0.5]
  std::int64_t max_iter = 3000;                               // most L-BFGS iterations per fit (a cap, see below)
  bool select_by_nll = false;  // choose lambda by held-out cross-entropy ("select": "nll"), not top-1 ("top1")

  // from_json(cfg) reads batchnorm, l2_grid, holdout, max_iter, select; std::invalid_argument("key '...': ...").
  static LinearProbeOptions from_json(const nlohmann::json& cfg);
  static nlohmann::json defaults();
  static nlohmann::json doc();
};

// A fitted head: scores = x @ weight + bias.
struct LogisticModel {
  at::Tensor weight;                             // [F, C]
  at::Tensor bias;                               // [C]
  at::Tensor scores(const at::Tensor& x) const;  // [N, F] -> [N, C]
};

// A fit's minimiser and how the optimiser ended.
struct LogisticFit {
  LogisticModel model;
  std::int64_t iterations = 0;  // L-BFGS iterations taken
  double grad_max = 0.0;        // largest |gradient| entry at the end
  bool converged = false;       // stopped by its tolerances, not by max_iter
};

// L-BFGS stops when the largest |gradient| entry falls to kGradTolerance or the loss or step stops changing (by
// 1e-9: in float32, once no step lowers the loss); otherwise after max_iter iterations.
inline constexpr double kGradTolerance = 1e-5;

// fit_logistic(x [N,F] f32, y [N] i64, C, l2, max_iter, start) -> the minimiser of mean cross-entropy +
// (l2/2) ||W||^2 (bias not penalised) by full-batch L-BFGS (strong Wolfe, history 10), from `start` (a fit of a
// nearby problem: the same minimiser, far fewer iterations) or from zero.
LogisticFit fit_logistic(const at::Tensor& x, const at::Tensor& y, std::int64_t num_classes, double l2,
                         std::int64_t max_iter, const LogisticModel* start = nullptr);

// Per-dimension standardisation with a split's statistics: (x - mean) / sqrt(var + eps), population variance.
struct Standardizer {
  at::Tensor mean;     // [F]
  at::Tensor inv_std;  // [F]
  static Standardizer fit(const at::Tensor& x, double eps = kBatchNormEps);
  at::Tensor apply(const at::Tensor& x) const;
};

// Row indices (int64, ascending) of a stratified split.
struct HoldoutSplit {
  at::Tensor fit;
  at::Tensor held;
};

// stratified_holdout(labels, C, fraction, seed): for each class with n >= 2 rows, clamp(round(fraction * n),
// 1, n - 1) random rows (seeded) are held out; classes with one row, or fraction 0, hold out nothing.
HoldoutSplit stratified_holdout(const at::Tensor& labels, std::int64_t num_classes, double fraction,
                                std::uint64_t seed);

// select_l2(grid, held_correct) -> index of the lambda with the most correct held-out predictions; a tie goes to
// the larger lambda. Sizes must match and be non-empty.
std::size_t select_l2(const std::vector<double>& grid, const std::vector<std::int64_t>& held_correct);
// select_l2_by_nll(grid, held_nll) -> index of the lambda with the lowest held-out mean cross-entropy; a tie goes to
// the larger lambda.
std::size_t select_l2_by_nll(const std::vector<double>& grid, const std::vector<double>& held_nll);

struct ProbeResult {
  double top1 = 0.0;
  double top5 = 0.0;  // valid when has_top5
  bool has_top5 = false;
  double l2 = 0.0;            // the chosen lambda
  double holdout_top1 = 0.0;  // valid when has_holdout
  double holdout_nll = 0.0;   // the chosen lambda's held-out mean cross-entropy; valid when has_holdout
  bool has_holdout = false;
  std::int64_t fit_iters = 0;    // the final fit's L-BFGS iterations
  bool converged = false;        // the final fit stopped by its tolerances, not by a cap
  double fit_grad = 0.0;         // the final fit's largest |gradient| entry (a float32 stall shows here)
  std::int64_t path_capped = 0;  // fits of the lambda path (held-out choice) that stopped at a cap
  std::int64_t train_n = 0;
  std::int64_t test_n = 0;
};

// run_linear_probe(...) -> choose lambda on the held-out part, refit on the whole training rows, score the test rows.
// Inputs are checked float32 [N,F] / int64 [N] tensors (see check_input).
ProbeResult run_linear_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                             const at::Tensor& test_y, std::int64_t num_classes, const LinearProbeOptions& o,
                             std::uint64_t seed);

class LinearProbe final : public sdk::Evaluator {
 public:
  explicit LinearProbe(LinearProbeOptions o) : opts_(std::move(o)) {}
  // evaluate -> top1, top5 (num_classes > 5), l2, holdout_top1 and holdout_nll (when rows were held out), train_n,
  // test_n, fit_iters, converged, fit_grad, path_capped
  sdk::Metrics evaluate(const sdk::EvalInput& in) override;
  bool wants_tokens() const override { return false; }
  // Takes its features on the evaluation device (a GPU too): ijepa.device_features/1.
  const void* capability(std::string_view id) const noexcept override {
    return id == sdk::kDeviceFeaturesId ? this : nullptr;
  }
  const LinearProbeOptions& options() const { return opts_; }

 private:
  LinearProbeOptions opts_;
};

}  // namespace ijepa::plugins::eval_probes
