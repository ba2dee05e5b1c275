// Registration only: describes the component, its defaults and their documentation. No maths here.
#include "cosine_loss.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.template.cosine", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  sdk::LossEntry e;
  e.type = "cosine";
  e.summary = "1 - cosine similarity to the (layer-normed) target tokens; the plugin template";
  e.defaults = {{"normalize_target", true}, {"eps", 1e-8}};
  e.doc = {{"normalize_target", "layer-norm targets (no affine, eps 1e-5) before comparing, as I-JEPA does"},
           {"eps", "small constant guarding the vector norms (> 0)"}};
  e.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Loss> {
    return std::make_shared<plugins::template_cosine::CosineLoss>(
        plugins::template_cosine::CosineLossOptions::from_json(cfg));
  };
  reg->add_loss(std::move(e));
}
