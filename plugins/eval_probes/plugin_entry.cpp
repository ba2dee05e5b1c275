// Registration only: the probe evaluators linear_probe, knn, low_shot and attentive_probe (spec §10).
#include "attentive_probe.hpp"
#include "ijepa/sdk/plugin.hpp"
#include "knn.hpp"
#include "linear_probe.hpp"
#include "low_shot.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.eval.probes", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  namespace ep = plugins::eval_probes;

  sdk::EvaluatorEntry lin;
  lin.type = "linear_probe";
  lin.summary =
      "multinomial logistic regression (L2, full-batch L-BFGS) on pooled features; lambda chosen on a "
      "stratified held-out part; top1/top5 in percent";
  lin.defaults = ep::LinearProbeOptions::defaults();
  lin.doc = ep::LinearProbeOptions::doc();
  lin.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Evaluator> {
    return std::make_shared<ep::LinearProbe>(ep::LinearProbeOptions::from_json(cfg));
  };
  reg->add_evaluator(std::move(lin));

  sdk::EvaluatorEntry knn;
  knn.type = "knn";
  knn.summary = "weighted k-NN of DINO: cosine similarity on L2-normalised pooled features, exp(sim/T) votes";
  knn.defaults = ep::KnnOptions::defaults();
  knn.doc = ep::KnnOptions::doc();
  knn.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Evaluator> {
    return std::make_shared<ep::Knn>(ep::KnnOptions::from_json(cfg));
  };
  reg->add_evaluator(std::move(knn));

  sdk::EvaluatorEntry low;
  low.type = "low_shot";
  low.summary =
      "linear_probe trained on a seeded per-class sample of a fraction of the training labels "
      "(default 1% and 10%)";
  low.defaults = ep::LowShotOptions::defaults();
  low.doc = ep::LowShotOptions::doc();
  low.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Evaluator> {
    return std::make_shared<ep::LowShot>(ep::LowShotOptions::from_json(cfg));
  };
  reg->add_evaluator(std::move(low));

  sdk::EvaluatorEntry att;
  att.type = "attentive_probe";
  att.summary =
      "V-JEPA attentive probe on token features [N,T,D]: learned query cross-attention + MLP + linear, "
      "AdamW with cosine lr/wd";
  att.defaults = ep::AttentiveProbeOptions::defaults();
  att.doc = ep::AttentiveProbeOptions::doc();
  att.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Evaluator> {
    return std::make_shared<ep::AttentiveProbe>(ep::AttentiveProbeOptions::from_json(cfg), ctx.encoder_heads);
  };
  reg->add_evaluator(std::move(att));
}
