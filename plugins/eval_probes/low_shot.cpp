#include "low_shot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <vector>

#include <ATen/ATen.h>

#include "ijepa/sdk/config.hpp"
#include "probe_common.hpp"

namespace ijepa::plugins::eval_probes {

namespace {
constexpr std::uint64_t kSampleSalt = 0x6c6f7773686f74ULL;  // "lowshot"
}  // namespace

nlohmann::json LowShotOptions::defaults() {
  nlohmann::json d = LinearProbeOptions::defaults();
  d["fractions"] = {0.01, 0.1};
  d["samples"] = 1;
  return d;
}

nlohmann::json LowShotOptions::doc() {
  nlohmann::json d = LinearProbeOptions::doc();
  d["fractions"] =
      "label fractions, each in (0, 1]: per class max(1, round(fraction*count)) training rows are sampled (seeded "
      "by the eval seed; a smaller fraction's sample is part of a larger one's) and a linear probe is trained on "
      "them alone (batchnorm statistics and the held-out part for choosing lambda come from the sample; if nothing can "
      "be held out, lambda = 1e-4 or the only l2_grid value) and scored on the whole test split; metrics top1_<p>pct, "
      "top5_<p>pct, n_<p>pct, l2_<p>pct with p the percentage (0.01 -> 1pct, 0.005 -> 0.5pct)";
  d["samples"] =
      "independent per-class samples drawn for each fraction, each probed on its own (cost: samples times one); "
      "top1_<p>pct and top5_<p>pct are then their means, sd_top1_<p>pct and sd_top5_<p>pct their standard "
      "deviations (n-1), l2_<p>pct the median chosen lambda, converged_<p>pct 1 only when every final fit "
      "converged and samples the count; "
      "the host's 95 % intervals then include the samples' spread (the t interval of their mean) beside the test "
      "images'. Which rows are sampled moves a 1 % figure by a few points (docs/evaluation.md); the first sample "
      "is the one of samples = 1; >= 1";
  return d;
}

LowShotOptions LowShotOptions::from_json(const nlohmann::json& cfg) {
  LowShotOptions o;
  o.probe = LinearProbeOptions::from_json(cfg);
  o.fractions = get_number_list(cfg, "fractions");
  o.samples = sdk::get_int_at_least(cfg, "samples", 1);
  std::map<std::string, double> names;
  for (double f : o.fractions) {
    if (!(f > 0.0 && f <= 1.0))
      throw std::invalid_argument("key 'fractions': " + number_text(f) + " is outside (0, 1]");
    const std::string s = fraction_suffix(f);
    if (s == "0pct")
      throw std::invalid_argument("key 'fractions': " + number_text(f) +
                                  " rounds to 0pct (metric names keep 2 decimals of the percentage; use >= 0.0001)");
    auto [it, fresh] = names.emplace(s, f);
    if (!fresh)
      throw std::invalid_argument("key 'fractions': " + number_text(it->second) + " and " + number_text(f) +
                                  " both name the metrics *_" + s);
  }
  return o;
}

at::Tensor sample_per_class(const at::Tensor& labels, std::int64_t num_classes, double fraction, std::uint64_t seed,
                            std::int64_t draw) {
  auto rows = rows_by_class(labels, num_classes);
  std::mt19937_64 rng = make_rng(seed, kSampleSalt + static_cast<std::uint64_t>(draw));
  std::vector<std::int64_t> picked;
  for (auto& r : rows) {
    const auto n = static_cast<std::int64_t>(r.size());
    shuffle(r, rng);
    if (n == 0) continue;
    const std::int64_t m = std::clamp<std::int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n);
    picked.insert(picked.end(), r.begin(), r.begin() + m);
  }
  std::sort(picked.begin(), picked.end());
  return to_index_tensor(picked);
}

std::string fraction_suffix(double fraction) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", fraction * 100.0);
  std::string s(buf);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + "pct";
}

sdk::Metrics LowShot::evaluate(const sdk::EvalInput& in) {
  const CheckedInput c = check_input(in, "low_shot", FeatureKind::pooled, Placement::features_device);
  sdk::Metrics m;
  if (opts_.samples > 1) m["samples"] = static_cast<double>(opts_.samples);  // beside the sd_ metrics
  for (double f : opts_.fractions) {
    std::vector<double> top1, top5, l2;
    bool converged = true;
    std::int64_t train_n = 0;
    for (std::int64_t draw = 0; draw < opts_.samples; ++draw) {
      const at::Tensor idx = sample_per_class(c.train_y, c.num_classes, f, c.seed, draw).to(c.train_x.device());
      const ProbeResult r = run_linear_probe(c.train_x.index_select(0, idx), c.train_y.index_select(0, idx),
                                             c.test_x, c.test_y, c.num_classes, opts_.probe, c.seed);
      top1.push_back(r.top1);
      if (r.has_top5) top5.push_back(r.top5);
      l2.push_back(r.l2);
      converged = converged && r.converged;
      train_n = r.train_n;  // the same for every draw: the per-class counts depend on the labels only
    }
    const at::Tensor t1 = at::tensor(top1, at::kDouble);
    const std::string s = fraction_suffix(f);
    m["top1_" + s] = t1.mean().item<double>();
    const at::Tensor t5 = at::tensor(top5, at::kDouble);
    if (!top5.empty()) m["top5_" + s] = t5.mean().item<double>();
    if (top1.size() > 1) m["sd_top1_" + s] = t1.std().item<double>();  // n - 1 in the denominator
    if (top5.size() > 1) m["sd_top5_" + s] = t5.std().item<double>();
    m["n_" + s] = static_cast<double>(train_n);
    std::sort(l2.begin(), l2.end());
    m["l2_" + s] = l2[(l2.size() - 1) / 2];  // the median (the lower one of an even count: a grid value)
    m["converged_" + s] = converged ? 1.0 : 0.0;
  }
  return m;
}

}  // namespace ijepa::plugins::eval_probes
