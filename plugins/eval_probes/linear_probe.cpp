#include "linear_probe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include <ATen/ATen.h>
#include <torch/optim/lbfgs.h>

#include "ijepa/sdk/config.hpp"
#include "probe_common.hpp"

namespace ijepa::plugins::eval_probes {

namespace {
constexpr std::uint64_t kHoldoutSalt = 0x686f6c646f7574ULL;  // "holdout"
constexpr std::int64_t kScoreChunk = 8192;                   // rows scored at a time

// A head's counts on rows x with labels y, scored kScoreChunk rows at a time ([rows, classes] in float64 can be
// large): the rows right at top-1 and (with top5) at top-5, and the summed cross-entropy (float64).
struct RowScores {
  std::int64_t top1 = 0;
  std::int64_t top5 = 0;
  double nll_sum = 0.0;
};

RowScores score_rows(const LogisticModel& m, const at::Tensor& x, const at::Tensor& y, bool top5) {
  RowScores r;
  for (std::int64_t s = 0; s < x.size(0); s += kScoreChunk) {
    const std::int64_t e = std::min(x.size(0), s + kScoreChunk);
    const at::Tensor sc = m.scores(x.slice(0, s, e)).to(at::kDouble);  // exact: the same ranking as float32
    const at::Tensor yc = y.slice(0, s, e);
    r.top1 += count_topk_correct(sc, yc, 1);
    if (top5) r.top5 += count_topk_correct(sc, yc, 5);
    r.nll_sum += (sc.logsumexp(1) - sc.gather(1, yc.unsqueeze(1)).squeeze(1)).sum().item<double>();
  }
  return r;
}
}  // namespace

nlohmann::json LinearProbeOptions::defaults() {
  return {{"batchnorm", true}, {"l2_grid", {1e-6, 1e-5, 1e-4, 1e-3, 1e-2}}, {"holdout", 0.1}, {"max_iter", 3000},
          {"select", "top1"}};
}

nlohmann::json LinearProbeOptions::doc() {
  return {{"batchnorm",
           "BatchNorm1d without affine in eval mode before the head: standardise each feature dimension with the "
           "training rows' mean and (population) std, eps 1e-5"},
          {"l2_grid",
           "candidate L2 penalties lambda (each >= 0); objective mean cross-entropy + (lambda/2)*||W||^2 (bias not "
           "penalised)"},
          {"holdout",
           "fraction of the training rows held out (stratified per class, seeded by the eval seed; a class with n >= 2 "
           "rows holds out clamp(round(holdout*n), 1, n-1)) to choose lambda (see select), ties to the larger "
           "lambda; then "
           "refit on all training rows; in [0, 0.5]; 0 needs a single-value l2_grid; when nothing can be held out, "
           "lambda = 1e-4 (or the only l2_grid value)"},
          {"select",
           "how the held-out rows choose lambda: 'top1' (most correct predictions) or 'nll' (lowest mean "
           "cross-entropy; measured on the quickstart's features it came nearer the best lambda at 1 % of the "
           "labels and farther at 10 %, docs/evaluation.md)"},
          {"max_iter",
           "the most full-batch L-BFGS iterations per fit (strong Wolfe line search, history 10, float32); a fit "
           "stops earlier at convergence (largest |gradient| 1e-5, or no change of the loss); the lambdas are fitted "
           "from the largest down, each from the last one's solution, the final fit from the chosen lambda's; metrics: "
           "'converged' 1 when the final fit stopped before this cap (or 2*max_iter loss evaluations), 'fit_iters' "
           "its iterations, 'fit_grad' its largest |gradient|, 'path_capped' how many of the held-out fits that "
           "chose lambda stopped at the cap (a fit cut short favours features the optimiser finds easy, not "
           "features that hold more); >= 1"}};
}

LinearProbeOptions LinearProbeOptions::from_json(const nlohmann::json& cfg) {
  LinearProbeOptions o;
  o.batchnorm = sdk::get<bool>(cfg, "batchnorm");
  o.l2_grid = get_number_list(cfg, "l2_grid");
  for (double l2 : o.l2_grid)
    if (l2 < 0.0) throw std::invalid_argument("key 'l2_grid': lambda = " + number_text(l2) + " is negative");
  o.holdout = sdk::get<double>(cfg, "holdout");
  if (!(o.holdout >= 0.0 && o.holdout <= 0.5))
    throw std::invalid_argument("key 'holdout': must lie in [0, 0.5], got " + number_text(o.holdout));
  if (o.holdout == 0.0 && o.l2_grid.size() > 1)
    throw std::invalid_argument("key 'holdout': 0 leaves no rows to choose among " + std::to_string(o.l2_grid.size()) +
                                " l2_grid values; give l2_grid a single value or a holdout in (0, 0.5]");
  o.max_iter = sdk::get_int_at_least(cfg, "max_iter", 1);
  const std::string select = sdk::get<std::string>(cfg, "select");
  if (select != "top1" && select != "nll")
    throw std::invalid_argument("key 'select': must be 'top1' or 'nll', got '" + select + "'");
  o.select_by_nll = select == "nll";
  return o;
}

at::Tensor LogisticModel::scores(const at::Tensor& x) const { return at::addmm(bias, x, weight); }

LogisticFit fit_logistic(const at::Tensor& x, const at::Tensor& y, std::int64_t num_classes, double l2,
                         std::int64_t max_iter, const LogisticModel* start) {
  const std::int64_t n = x.size(0);
  at::Tensor w = start != nullptr ? start->weight.clone() : at::zeros({x.size(1), num_classes}, x.options());
  at::Tensor b = start != nullptr ? start->bias.clone() : at::zeros({num_classes}, x.options());
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  const at::Tensor y1 = y.unsqueeze(1);
  const at::Tensor minus_one = at::full({n, 1}, -1.0, x.options());
  const std::int64_t max_eval = 2 * max_iter;  // the line search's cap on loss evaluations
  torch::optim::LBFGS opt(std::vector<at::Tensor>{w, b}, torch::optim::LBFGSOptions(1.0)
                                                              .max_iter(max_iter)
                                                              .max_eval(max_eval)
                                                              .tolerance_grad(kGradTolerance)
                                                              .history_size(10)
                                                              .line_search_fn("strong_wolfe"));
  // Loss and analytic gradient: d/dlogits = (softmax - onehot) / n; dW = x^T g + lambda W; db = sum g.
  auto closure = [&]() -> at::Tensor {
    at::NoGradGuard no_grad;
    const at::Tensor logits = at::addmm(b, x, w);
    const at::Tensor lse = logits.logsumexp(1, /*keepdim=*/true);
    const at::Tensor nll = (lse - logits.gather(1, y1)).mean();
    const at::Tensor loss = nll + (0.5 * l2) * w.square().sum();
    at::Tensor g = (logits - lse).exp_();
    g.scatter_add_(1, y1, minus_one).div_(static_cast<double>(n));
    w.mutable_grad() = at::addmm(w, x.t(), g, /*beta=*/l2, /*alpha=*/1.0);
    b.mutable_grad() = g.sum(0);
    return loss;
  };
  opt.step(closure);
  LogisticFit f;
  const auto& st = static_cast<const torch::optim::LBFGSParamState&>(*opt.state().at(w.unsafeGetTensorImpl()));
  f.iterations = st.n_iter();
  closure();  // the gradient at the solution
  f.grad_max = std::max(w.grad().abs().max().item<double>(), b.grad().abs().max().item<double>());
  // Stopped by a tolerance, not by a cap (iterations, or function evaluations: the line search's cap).
  f.converged = (f.iterations < max_iter && st.func_evals() < max_eval) || f.grad_max <= kGradTolerance;
  f.model = {w.detach(), b.detach()};
  return f;
}

Standardizer Standardizer::fit(const at::Tensor& x, double eps) {
  auto [var, mean] = at::var_mean(x, /*dim=*/{0}, /*unbiased=*/false, /*keepdim=*/false);
  return {mean, (var + eps).rsqrt()};
}

at::Tensor Standardizer::apply(const at::Tensor& x) const { return (x - mean) * inv_std; }

HoldoutSplit stratified_holdout(const at::Tensor& labels, std::int64_t num_classes, double fraction,
                                std::uint64_t seed) {
  auto rows = rows_by_class(labels, num_classes);
  std::mt19937_64 rng = make_rng(seed, kHoldoutSalt);
  std::vector<std::int64_t> fit, held;
  for (auto& r : rows) {
    const auto n = static_cast<std::int64_t>(r.size());
    shuffle(r, rng);  // every class draws, whatever it holds out: classes do not shift each other's choice
    std::int64_t h = 0;
    if (fraction > 0.0 && n >= 2)
      h = std::clamp<std::int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n - 1);
    held.insert(held.end(), r.begin(), r.begin() + h);
    fit.insert(fit.end(), r.begin() + h, r.end());
  }
  std::sort(fit.begin(), fit.end());
  std::sort(held.begin(), held.end());
  return {to_index_tensor(fit), to_index_tensor(held)};
}

std::size_t select_l2(const std::vector<double>& grid, const std::vector<std::int64_t>& held_correct) {
  if (grid.empty() || grid.size() != held_correct.size())
    throw std::invalid_argument("select_l2: grid and held-out counts must be non-empty and of equal size");
  std::size_t best = 0;
  for (std::size_t i = 1; i < grid.size(); ++i)
    if (held_correct[i] > held_correct[best] || (held_correct[i] == held_correct[best] && grid[i] > grid[best]))
      best = i;
  return best;
}

std::size_t select_l2_by_nll(const std::vector<double>& grid, const std::vector<double>& held_nll) {
  if (grid.empty() || grid.size() != held_nll.size())
    throw std::invalid_argument("select_l2_by_nll: grid and held-out losses must be non-empty and of equal size");
  const auto loss = [&](std::size_t i) {  // a diverged fit's NaN loses to every number
    return std::isnan(held_nll[i]) ? std::numeric_limits<double>::infinity() : held_nll[i];
  };
  std::size_t best = 0;
  for (std::size_t i = 1; i < grid.size(); ++i)
    if (loss(i) < loss(best) || (loss(i) == loss(best) && grid[i] > grid[best])) best = i;
  return best;
}

ProbeResult run_linear_probe(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                             const at::Tensor& test_y, std::int64_t num_classes, const LinearProbeOptions& o,
                             std::uint64_t seed) {
  at::Tensor xtr = train_x;
  at::Tensor xte = test_x;
  if (o.batchnorm) {
    const Standardizer bn = Standardizer::fit(train_x);
    xtr = bn.apply(train_x);
    xte = bn.apply(test_x);
  }
  ProbeResult r;
  r.train_n = xtr.size(0);
  r.test_n = xte.size(0);
  r.l2 = o.l2_grid.size() == 1 ? o.l2_grid.front() : kFallbackL2;

  LogisticModel start;  // the chosen lambda's held-out fit, where the final fit starts
  const HoldoutSplit split = stratified_holdout(train_y, num_classes, o.holdout, seed);
  if (split.held.numel() > 0) {
    const at::Tensor fit = split.fit.to(xtr.device()), held = split.held.to(xtr.device());
    const at::Tensor xf = xtr.index_select(0, fit), yf = train_y.index_select(0, fit);
    const at::Tensor xh = xtr.index_select(0, held), yh = train_y.index_select(0, held);
    // The regularisation path, from the largest lambda down, each fit from the last one's solution: for lambda > 0
    // the objective is strictly convex, so the same minimiser (up to float32's reach), in far fewer iterations.
    std::vector<std::size_t> order(o.l2_grid.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return o.l2_grid[a] > o.l2_grid[b]; });
    std::vector<std::int64_t> correct(o.l2_grid.size());
    std::vector<double> nll(o.l2_grid.size());
    std::vector<LogisticModel> fits(o.l2_grid.size());
    const LogisticModel* last = nullptr;
    for (std::size_t i : order) {
      const LogisticFit f = fit_logistic(xf, yf, num_classes, o.l2_grid[i], o.max_iter, last);
      fits[i] = f.model;
      last = &fits[i];
      r.path_capped += f.converged ? 0 : 1;
      const RowScores h = score_rows(f.model, xh, yh, /*top5=*/false);
      correct[i] = h.top1;
      nll[i] = h.nll_sum / static_cast<double>(xh.size(0));
    }
    const std::size_t best = o.select_by_nll ? select_l2_by_nll(o.l2_grid, nll) : select_l2(o.l2_grid, correct);
    r.l2 = o.l2_grid[best];
    r.holdout_top1 = percent(correct[best], xh.size(0));
    r.holdout_nll = nll[best];
    r.has_holdout = true;
    start = fits[best];
  }

  const LogisticFit f =
      fit_logistic(xtr, train_y, num_classes, r.l2, o.max_iter, start.weight.defined() ? &start : nullptr);
  r.fit_iters = f.iterations;
  r.converged = f.converged;
  r.fit_grad = f.grad_max;
  r.has_top5 = reports_top5(num_classes);
  const RowScores t = score_rows(f.model, xte, test_y, r.has_top5);
  r.top1 = percent(t.top1, r.test_n);
  r.top5 = percent(t.top5, r.test_n);
  return r;
}

sdk::Metrics LinearProbe::evaluate(const sdk::EvalInput& in) {
  const CheckedInput c = check_input(in, "linear_probe", FeatureKind::pooled, Placement::features_device);
  const ProbeResult r = run_linear_probe(c.train_x, c.train_y, c.test_x, c.test_y, c.num_classes, opts_, c.seed);
  sdk::Metrics m{{"top1", r.top1},
                 {"l2", r.l2},
                 {"train_n", static_cast<double>(r.train_n)},
                 {"test_n", static_cast<double>(r.test_n)}};
  if (r.has_top5) m["top5"] = r.top5;
  if (r.has_holdout) {
    m["holdout_top1"] = r.holdout_top1;
    m["holdout_nll"] = r.holdout_nll;
  }
  m["fit_iters"] = static_cast<double>(r.fit_iters);
  m["converged"] = r.converged ? 1.0 : 0.0;
  m["fit_grad"] = r.fit_grad;
  if (r.has_holdout) m["path_capped"] = static_cast<double>(r.path_capped);
  return m;
}

}  // namespace ijepa::plugins::eval_probes
