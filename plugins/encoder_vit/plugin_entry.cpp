// Registration only: the `vit` encoder, its defaults and their documentation. No maths here.
#include "ijepa/sdk/plugin.hpp"
#include "vit_encoder.hpp"

IJEPA_PLUGIN_ABI("org.ijepa.encoder.vit", "0.1.0")

IJEPA_PLUGIN_REGISTER(reg, host) {
  using namespace ijepa;
  using plugins::vit::VitEncoderOptions;
  sdk::EncoderEntry e;
  e.type = "vit";
  e.summary = "I-JEPA Vision Transformer (fixed 2-D sin-cos positions, pre-norm blocks, no CLS token)";
  e.defaults = VitEncoderOptions::defaults();
  e.doc = VitEncoderOptions::doc();
  e.make = [](const nlohmann::json& cfg, const sdk::BuildContext& ctx) -> std::shared_ptr<sdk::Encoder> {
    const VitEncoderOptions opts = VitEncoderOptions::from_json(cfg);
    const std::string note = plugins::vit::context_mismatch(opts, ctx);
    if (!note.empty()) sdk::log_warn(ctx.host, "vit encoder: host context differs: " + note);
    return std::make_shared<plugins::vit::VitEncoder>(opts);
  };
  reg->add_encoder(std::move(e));
}
