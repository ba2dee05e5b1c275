#include "ijepa/host/run/run_health.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <ATen/ATen.h>

#include "ijepa/sdk/tensor_ops.hpp"

namespace ijepa::host {

namespace {

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(3);
  os << v;
  return os.str();
}

at::Tensor as_float_cpu(const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat); }

// The loss's target for each predicted token: layer-normed target tokens at the target masks, repeated for each
// context mask (spec §4, the official apply_masks + repeat_interleave_batch).
at::Tensor targets_for(const sdk::StepView& v) {
  at::Tensor h = as_float_cpu(v.target_tokens);
  h = at::layer_norm(h, {h.size(-1)}, {}, {}, 1e-5);
  const std::int64_t batch = h.size(0);
  h = sdk::apply_masks(h, *v.masks_tgt);
  return sdk::repeat_interleave_batch(h, batch, static_cast<std::int64_t>(v.masks_ctx->size()));
}

// The L2 norm over a list of tensors (or of their gradients), with one host read.
double l2(const std::vector<at::Tensor>& ts, bool grads) {
  std::vector<at::Tensor> xs;
  for (const at::Tensor& t : ts) {
    const at::Tensor x = grads ? t.grad() : t;
    if (x.defined()) xs.push_back(x.detach().to(at::kFloat));
  }
  if (xs.empty()) return 0.0;
  return at::stack(at::_foreach_norm(xs)).to(at::kDouble).norm().item<double>();
}

}  // namespace

double rankme(const at::Tensor& x) {
  const at::Tensor s = at::linalg_svdvals(as_float_cpu(x).to(at::kDouble));
  const at::Tensor p = s / (s.sum() + 1e-7) + 1e-7;
  return std::exp(-(p * p.log()).sum().item<double>());
}

double mean_dim_std(const at::Tensor& x) {
  const at::Tensor f = as_float_cpu(x).to(at::kDouble);
  const at::Tensor n = f / f.norm(2, {1}, true).clamp_min(1e-12);
  return n.std(0, /*unbiased=*/false).mean().item<double>();
}

double positional_share(const at::Tensor& tokens) {
  const at::Tensor t = as_float_cpu(tokens).to(at::kDouble);  // [B, N, D]
  const at::Tensor mu = t.mean(at::IntArrayRef{0, 1}, true);   // [1, 1, D]
  const double total = (t - mu).pow(2).sum().item<double>();
  if (!(total > 0)) return 0.0;
  const at::Tensor per_pos = t.mean(0, true);                   // [1, N, D]
  const double positional = static_cast<double>(t.size(0)) * (per_pos - mu).pow(2).sum().item<double>();
  return positional / total;
}

sdk::Metrics RunHealth::observe(const sdk::StepView& v) const {
  at::NoGradGuard no_grad;
  sdk::Metrics m;
  if (v.target_tokens.defined()) {
    const at::Tensor pooled = as_float_cpu(v.target_tokens).mean(1);  // [B, D]
    m["health.rank_target"] = rankme(pooled);
    m["health.std_target"] = mean_dim_std(pooled);
    m["health.positional_share"] = positional_share(v.target_tokens);
  }
  if (v.prediction.defined()) {
    const at::Tensor z = as_float_cpu(v.prediction);
    m["health.rank_pred"] = rankme(z.mean(1));
    if (v.target_tokens.defined() && v.masks_ctx != nullptr && v.masks_tgt != nullptr) {
      const at::Tensor h = targets_for(v);
      if (h.sizes() == z.sizes()) m["health.pred_cos"] = at::cosine_similarity(z, h, -1).mean().item<double>();
    }
  }
  for (const auto& [name, params] : v.groups) m["health.grad_norm." + name] = l2(params, true);
  if (v.context_params != nullptr && v.target_params != nullptr && v.context_params->size() == v.target_params->size()) {
    const double ref = l2(*v.target_params, false);
    const double diff = l2(at::_foreach_sub(*v.context_params, *v.target_params), false);
    m["health.ema_distance"] = ref > 0 ? diff / ref : 0.0;
  }
  return m;
}

std::vector<std::string> HealthWatch::check(std::int64_t step, const sdk::Metrics& m) {
  std::vector<std::string> out;
  auto once = [&](const std::string& kind, const std::string& line) {
    if (std::find(fired_.begin(), fired_.end(), kind) != fired_.end()) return;
    fired_.push_back(kind);
    out.push_back("run health, step " + std::to_string(step) + ": " + line);
  };
  if (auto it = m.find("health.positional_share"); it != m.end() && it->second > 0.9) {
    once("positional_share", "positional share " + fmt(it->second) + " > 0.9: the target features are mostly token "
                             "position, predictable without the image (a positional collapse)");
  }
  if (auto it = m.find("health.rank_target"); it != m.end()) {
    if (!first_rank_) first_rank_ = it->second;
    // The floor of 2 counts once the rank has fallen through it: a run whose features start below it (a tiny model
    // on tiny images) has not collapsed by being logged.
    const double floor = *first_rank_ >= 2.0 ? 2.0 : 0.0;
    if (it->second < std::max(floor, 0.25 * *first_rank_)) {
      once("rank_target", "effective rank of the target features " + fmt(it->second) + " (first logged " +
                              fmt(*first_rank_) + "): a dimensional collapse");
    }
  }
  if (auto it = m.find("health.std_target"); it != m.end()) {
    if (!first_std_) first_std_ = it->second;
    if (it->second < 0.1 * *first_std_) {
      once("std_target", "per-dimension std of the target features " + fmt(it->second) + " (first logged " +
                             fmt(*first_std_) + "): the features collapse to one point");
    }
  }
  return out;
}

}  // namespace ijepa::host
