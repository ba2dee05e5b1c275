// Registration only: the masking-strategy ablation maskers `random`, `block` and `rasterized` (paper Table 6).
#include "block_masker.hpp"
#include "random_masker.hpp"
#include "rasterized_masker.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.masker.ablations", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  using namespace plugins::masker_ablations;

  sdk::MaskerEntry r;
  r.type = "random";
  r.summary = "Table 6 ablation: one target of round(ratio*N) random patches per image, context = the complement";
  r.defaults = RandomOptions::default_config();
  r.doc = RandomOptions::doc();
  r.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Masker> {
    return std::make_shared<RandomMasker>(RandomOptions::from_json(cfg), ctx);
  };
  reg->add_masker(std::move(r));

  sdk::MaskerEntry b;
  b.type = "block";
  b.summary = "Table 6 ablation: one large target block (scale of the grid) per image, context = the complement";
  b.defaults = BlockOptions::default_config();
  b.doc = BlockOptions::doc();
  b.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Masker> {
    return std::make_shared<BlockMasker>(BlockOptions::from_json(cfg), ctx);
  };
  reg->add_masker(std::move(b));

  sdk::MaskerEntry q;
  q.type = "rasterized";
  q.summary = "Table 6 ablation: one quadrant as context, the other three quadrants as 3 target masks";
  q.defaults = RasterizedOptions::default_config();
  q.doc = RasterizedOptions::doc();
  q.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Masker> {
    return std::make_shared<RasterizedMasker>(RasterizedOptions::from_json(cfg), ctx);
  };
  reg->add_masker(std::move(q));
}
