// Registration only: smooth_l1 and l2 representation losses.
#include "representation_loss.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.loss.representation", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  using plugins::loss_representation::Distance;
  using plugins::loss_representation::RepresentationLoss;
  using plugins::loss_representation::RepresentationLossOptions;

  sdk::LossEntry s;
  s.type = "smooth_l1";
  s.summary = "official I-JEPA loss: smooth L1 (Huber, beta 1, mean) to layer-normed target-encoder tokens";
  s.defaults = {{"normalize_target", true}, {"beta", 1.0}};
  s.doc = {{"normalize_target", "layer-norm the target tokens (no affine, eps 1e-5) before masking, as the official code"},
           {"beta", "Huber transition point (official 1.0); > 0"}};
  s.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Loss> {
    return std::make_shared<RepresentationLoss>(RepresentationLossOptions::from_json(cfg, Distance::smooth_l1));
  };
  reg->add_loss(std::move(s));

  sdk::LossEntry l;
  l.type = "l2";
  l.summary = "the paper's loss: mean squared L2 distance to layer-normed target-encoder tokens";
  l.defaults = {{"normalize_target", true}};
  l.doc = {{"normalize_target", "layer-norm the target tokens (no affine, eps 1e-5) before masking"}};
  l.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Loss> {
    return std::make_shared<RepresentationLoss>(RepresentationLossOptions::from_json(cfg, Distance::l2));
  };
  reg->add_loss(std::move(l));
}
