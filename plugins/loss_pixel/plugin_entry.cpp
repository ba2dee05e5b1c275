// Registration only: the pixel-space target loss `pixel` (paper Table 7).
#include "pixel_loss.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.loss.pixel", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  using plugins::loss_pixel::PixelLoss;
  using plugins::loss_pixel::PixelLossOptions;
  sdk::LossEntry e;
  e.type = "pixel";
  e.summary = "Table 7 ablation: regress the (per-patch normalised) pixels of the target patches; no target encoder; "
              "set components.predictor.output_dim = patch_size^2 * 3";
  e.defaults = PixelLossOptions::default_config();
  e.doc = PixelLossOptions::doc();
  e.make = [](const nlohmann::json& cfg, const sdk::BuildContext&) -> std::shared_ptr<sdk::Loss> {
    return std::make_shared<PixelLoss>(PixelLossOptions::from_json(cfg));
  };
  reg->add_loss(std::move(e));
}
