// The built plugins ijepa_encoder_vit.so and ijepa_predictor_vit.so, loaded through the host.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"

using ijepa::host::ConfigError;
using ijepa::host::Kind;
using ijepa::host::PluginHost;
namespace sdk = ijepa::sdk;

namespace {

PluginHost& host() {
  static PluginHost* h = [] {
    auto* p = new PluginHost();  // never destroyed: plugins stay loaded for the process
    const auto dir = ijepa::host::builtin_plugin_dir();
    p->load_file(dir / "ijepa_encoder_vit.so", /*allow_insecure=*/false);
    p->load_file(dir / "ijepa_predictor_vit.so", /*allow_insecure=*/false);
    return p;
  }();
  return *h;
}

const nlohmann::json kSmallEncoder = {{"type", "vit"},  {"img_size", 32}, {"patch_size", 8},
                                      {"embed_dim", 64}, {"depth", 2},    {"num_heads", 4}};

sdk::BuildContext encoder_context() {
  sdk::BuildContext ctx;
  ctx.image_size = 32;
  ctx.patch_size = 8;
  ctx.grid = {4, 4};
  return ctx;
}

}  // namespace

TEST(VitPlugins, LoadAndRegisterWithEveryKeyDocumented) {
  ASSERT_TRUE(host().rejected().empty()) << host().rejected().front().path << ": " << host().rejected().front().reason;
  const auto* e = host().registry().find(Kind::encoder, "vit");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->origin.plugin_id, "org.ijepa.encoder.vit");
  EXPECT_EQ(e->defaults["preset"], "vit_tiny");
  EXPECT_EQ(e->defaults["img_size"], 224);
  EXPECT_EQ(e->defaults["patch_size"], 16);
  const auto* p = host().registry().find(Kind::predictor, "vit_predictor");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->origin.plugin_id, "org.ijepa.predictor.vit");
  EXPECT_EQ(p->defaults["embed_dim"], 384);
  EXPECT_EQ(p->defaults["depth"], 6);
  for (const auto* entry : {e, p}) {
    ASSERT_EQ(entry->defaults.size(), entry->doc.size());
    for (auto it = entry->defaults.begin(); it != entry->defaults.end(); ++it)
      EXPECT_TRUE(entry->doc.contains(it.key())) << entry->type << "." << it.key();
  }
}

TEST(VitPlugins, EncoderAndPredictorBuildThroughTheRegistry) {
  const auto enc = host().registry().make_encoder(kSmallEncoder, encoder_context(), "components.encoder");
  EXPECT_EQ(enc->embed_dim(), 64);
  EXPECT_EQ(enc->num_heads(), 4);
  EXPECT_EQ(enc->depth(), 2);
  EXPECT_EQ(enc->grid().h, 4);
  EXPECT_NE(enc->capability(sdk::kAttentionMapsId), nullptr);
  EXPECT_NE(enc->capability(sdk::kLayerOutputsId), nullptr);
  // parameters are visible through the sdk::Encoder (a torch::nn::Module) with official names
  auto params = enc->named_parameters();
  EXPECT_TRUE(params.contains("blocks.1.mlp.fc2.weight"));
  EXPECT_TRUE(params.contains("pos_embed"));

  sdk::BuildContext ctx = encoder_context();
  ctx.encoder_dim = enc->embed_dim();
  ctx.encoder_heads = enc->num_heads();
  ctx.encoder_depth = enc->depth();
  const auto pred = host().registry().make_predictor({{"type", "vit_predictor"}, {"embed_dim", 32}, {"depth", 1}},
                                                     ctx, "components.predictor");
  EXPECT_EQ(pred->output_dim(), 64);

  const at::Tensor images = at::randn({2, 3, 32, 32});
  const std::vector<at::Tensor> mctx = {at::arange(8).repeat({2, 1})};
  const std::vector<at::Tensor> mtgt = {at::arange(8, 12).repeat({2, 1}), at::arange(12, 16).repeat({2, 1})};
  const at::Tensor z = enc.call([&](sdk::Encoder& e) { return e.encode(images, &mctx); });
  EXPECT_EQ(z.sizes(), (at::IntArrayRef{2, 8, 64}));
  const at::Tensor out = pred.call([&](sdk::Predictor& p) { return p.predict(z, mctx, mtgt); });
  EXPECT_EQ(out.sizes(), (at::IntArrayRef{4, 4, 64}));
}

TEST(VitPlugins, PatchSizeNotDividingImageSizeIsAOneLineConfigError) {
  nlohmann::json cfg = kSmallEncoder;
  cfg["patch_size"] = 7;
  try {
    (void)host().registry().make_encoder(cfg, encoder_context(), "components.encoder");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("patch_size"), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not divide img_size 32"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(VitPlugins, PredictorWithoutEncoderFactsIsAConfigError) {
  EXPECT_THROW((void)host().registry().make_predictor({{"type", "vit_predictor"}}, encoder_context(), "p"),
               ConfigError);
}
