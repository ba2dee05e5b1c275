// Registration only: describes the `multiblock` masker, its defaults and their documentation. No maths here.
#include "multiblock_masker.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.masker.multiblock", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  using plugins::masker_multiblock::MultiBlockMasker;
  using plugins::masker_multiblock::MultiBlockOptions;
  sdk::MaskerEntry e;
  e.type = "multiblock";
  e.summary = "I-JEPA multi-block masks (official MaskCollator; variant faithful|fixed; capability ijepa.mask_stats/1)";
  e.defaults = MultiBlockOptions::default_config();
  e.doc = MultiBlockOptions::doc();
  e.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Masker> {
    return std::make_shared<MultiBlockMasker>(MultiBlockOptions::from_json(cfg), ctx);
  };
  reg->add_masker(std::move(e));
}
