// Registration only: the `vit_predictor` predictor, its defaults and their documentation. No maths here.
#include "ijepa/sdk/plugin.hpp"
#include "vit_predictor.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.predictor.vit", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  using plugins::vit::VitPredictorOptions;
  sdk::PredictorEntry e;
  e.type = "vit_predictor";
  e.summary = "I-JEPA narrow ViT predictor: context tokens + mask tokens at target positions, one sequence per block";
  e.defaults = VitPredictorOptions::defaults();
  e.doc = VitPredictorOptions::doc();
  e.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Predictor> {
    return std::make_shared<plugins::vit::VitPredictor>(VitPredictorOptions::from_json(cfg), ctx);
  };
  reg->add_predictor(std::move(e));
}
