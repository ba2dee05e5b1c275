#include "attentive_probe.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <torch/optim/adamw.h>

#include "attentive_pooler.hpp"
#include "ijepa/sdk/config.hpp"
#include "probe_common.hpp"

namespace ijepa::plugins::eval_probes {

namespace {
constexpr std::uint64_t kInitSalt = 0x706f6f6c696e6974ULL;     // "poolinit"
constexpr std::uint64_t kShuffleSalt = 0x706f6f6c73687566ULL;  // "poolshuf"
constexpr std::int64_t kEvalBatch = 1024;
constexpr double kPi = 3.14159265358979323846;
}  // namespace

nlohmann::json AttentiveProbeOptions::defaults() {
  return {{"num_heads", 0}, {"lr", 1e-3},       {"weight_decay", 1e-3}, {"final_weight_decay", 1e-6},
          {"epochs", 20},   {"batch_size", 256}};
}

nlohmann::json AttentiveProbeOptions::doc() {
  return {
      {"num_heads",
       "cross-attention heads; 0 = the encoder's heads (or max(1, D/64) when unknown); must divide the token width D"},
      {"lr", "AdamW learning rate (betas 0.9/0.999, eps 1e-8), cosine-annealed per step to 0; > 0"},
      {"weight_decay",
       "initial AdamW weight decay, cosine-annealed per step to final_weight_decay; applied to weights and the query, "
       "not to biases or LayerNorms; >= 0"},
      {"final_weight_decay", "weight decay at the last step; >= 0"},
      {"epochs", "passes over the training tokens, shuffled each epoch by a generator seeded from the eval seed; >= 1"},
      {"batch_size", "training rows per AdamW step (the last batch of an epoch may be smaller); >= 1"}};
}

AttentiveProbeOptions AttentiveProbeOptions::from_json(const nlohmann::json& cfg) {
  AttentiveProbeOptions o;
  o.num_heads = sdk::get_int_at_least(cfg, "num_heads", 0);
  o.lr = get_positive(cfg, "lr");
  o.weight_decay = get_non_negative(cfg, "weight_decay");
  o.final_weight_decay = get_non_negative(cfg, "final_weight_decay");
  o.epochs = sdk::get_int_at_least(cfg, "epochs", 1);
  o.batch_size = sdk::get_int_at_least(cfg, "batch_size", 1);
  return o;
}

std::int64_t resolve_heads(std::int64_t num_heads, std::int64_t encoder_heads, std::int64_t dim) {
  std::int64_t h = num_heads;
  std::string from = "num_heads";
  if (h <= 0 && encoder_heads > 0) {
    h = encoder_heads;
    from = "the encoder's heads";
  }
  if (h <= 0) {
    h = std::max<std::int64_t>(1, dim / 64);
    from = "max(1, D/64), the encoder's heads being unknown";
  }
  if (dim % h != 0)
    throw std::invalid_argument("attentive_probe: " + std::to_string(h) + " heads (" + from +
                                ") do not divide the token width " + std::to_string(dim) +
                                "; set num_heads to a divisor of it");
  return h;
}

double cosine_schedule(std::int64_t step, std::int64_t total, double start, double end) {
  const double t = total > 0 ? static_cast<double>(step) / static_cast<double>(total) : 0.0;
  return end + (start - end) * 0.5 * (1.0 + std::cos(kPi * t));
}

sdk::Metrics AttentiveProbe::evaluate(const sdk::EvalInput& in) {
  const CheckedInput c = check_input(in, "attentive_probe", FeatureKind::tokens);
  if (c10::InferenceMode::is_enabled())
    throw std::runtime_error("attentive_probe: evaluate() trains a pooler and cannot run inside c10::InferenceMode");
  at::AutoGradMode enable_grad(true);  // whatever grad mode the caller is in
  const std::int64_t n = c.train_x.size(0), dim = c.train_x.size(2);
  const std::int64_t heads = resolve_heads(opts_.num_heads, encoder_heads_, dim);

  at::Generator init_gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(c.seed, kInitSalt));
  at::Generator shuffle_gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(c.seed, kShuffleSalt));
  AttentiveClassifier model(dim, heads, c.num_classes, init_gen);
  model->train();

  std::vector<at::Tensor> decay, no_decay;
  for (const auto& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  using torch::optim::AdamWOptions;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<AdamWOptions>(AdamWOptions(opts_.lr).weight_decay(opts_.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<AdamWOptions>(AdamWOptions(opts_.lr).weight_decay(0.0)));
  torch::optim::AdamW opt(std::move(groups), AdamWOptions(opts_.lr));

  const std::int64_t bs = std::min(opts_.batch_size, n);
  const std::int64_t steps_per_epoch = (n + bs - 1) / bs;
  const std::int64_t total = opts_.epochs * steps_per_epoch;
  std::int64_t step = 0;
  double epoch_loss = 0.0;
  for (std::int64_t ep = 0; ep < opts_.epochs; ++ep) {
    const at::Tensor perm = at::randperm(n, shuffle_gen, at::TensorOptions().dtype(at::kLong));
    epoch_loss = 0.0;
    for (std::int64_t s = 0; s < n; s += bs, ++step) {
      const at::Tensor idx = perm.slice(0, s, std::min(n, s + bs));
      const at::Tensor xb = c.train_x.index_select(0, idx), yb = c.train_y.index_select(0, idx);
      const double lr = cosine_schedule(step, total, opts_.lr, 0.0);
      const double wd = cosine_schedule(step, total, opts_.weight_decay, opts_.final_weight_decay);
      auto& pg = opt.param_groups();
      static_cast<AdamWOptions&>(pg[0].options()).lr(lr).weight_decay(wd);
      static_cast<AdamWOptions&>(pg[1].options()).lr(lr);
      const at::Tensor loss = at::nll_loss(at::log_softmax(model->forward(xb), 1), yb);
      opt.zero_grad();
      loss.backward();
      opt.step();
      epoch_loss += loss.item<double>() * static_cast<double>(idx.size(0));
    }
  }

  model->eval();
  at::NoGradGuard no_grad;
  const std::int64_t nt = c.test_x.size(0);
  const bool top5 = reports_top5(c.num_classes);
  std::int64_t c1 = 0, c5 = 0;
  for (std::int64_t s = 0; s < nt; s += kEvalBatch) {
    const std::int64_t e = std::min(nt, s + kEvalBatch);
    const at::Tensor logits = model->forward(c.test_x.slice(0, s, e));
    const at::Tensor y = c.test_y.slice(0, s, e);
    c1 += count_topk_correct(logits, y, 1);
    if (top5) c5 += count_topk_correct(logits, y, 5);
  }
  sdk::Metrics m{{"top1", percent(c1, nt)}, {"final_train_loss", epoch_loss / static_cast<double>(n)}};
  if (top5) m["top5"] = percent(c5, nt);
  return m;
}

}  // namespace ijepa::plugins::eval_probes
