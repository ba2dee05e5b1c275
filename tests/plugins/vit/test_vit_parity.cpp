// Parity with the reference Python model (tests/fixtures/parity/make_parity.py, a transcription of
// facebookresearch/ijepa src/models/vision_transformer.py): same weights, inputs and masks; fp32, 1e-5.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/sdk/tensor_ops.hpp"
#include "sincos.hpp"
#include "vit_presets.hpp"
#include "vit_test_util.hpp"

namespace ijepa::plugins::vit {
namespace {

using test::load_named;
using test::max_abs_diff;

constexpr double kTol = 1e-5;

struct Fixture {
  host::TensorMap tensors;
  host::StringMap meta;
  nlohmann::json cfg;

  std::vector<at::Tensor> masks(const std::string& kind, int count) const {
    std::vector<at::Tensor> out;
    for (int i = 0; i < count; ++i) out.push_back(tensors.at("masks." + kind + "." + std::to_string(i)));
    return out;
  }
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    x.tensors = host::read_safetensors(IJEPA_VIT_PARITY_FILE, &x.meta);
    x.cfg = nlohmann::json::parse(x.meta.at("config"));
    return x;
  }();
  return f;
}

VitEncoderOptions encoder_options(const nlohmann::json& c) {
  VitEncoderOptions o;
  o.img_size = c["img_size"];
  o.patch_size = c["patch_size"];
  o.in_chans = c["in_chans"];
  o.embed_dim = c["embed_dim"];
  o.depth = c["depth"];
  o.num_heads = c["num_heads"];
  o.mlp_ratio = c["mlp_ratio"];
  return o;
}

TEST(VitParity, SincosTableEqualsReference) {
  EXPECT_LT(max_abs_diff(sincos_pos_embed_2d(8, 2, 2), fixture().tensors.at("expected.sincos_d8_g2")), 1e-7);
  VitEncoder enc(encoder_options(fixture().cfg));
  EXPECT_LT(max_abs_diff(enc.named_parameters()["pos_embed"], fixture().tensors.at("encoder.pos_embed")), 1e-6);
}

TEST(VitParity, EncoderFullAndMasked) {
  const Fixture& f = fixture();
  VitEncoder enc(encoder_options(f.cfg));
  ASSERT_NO_THROW(load_named(enc, f.tensors, "encoder."));  // every key, both directions
  const at::Tensor images = f.tensors.at("input.images");
  const auto masks_enc = f.masks("enc", f.cfg["nenc"]);
  at::NoGradGuard no_grad;
  const double full = max_abs_diff(enc.encode(images, nullptr), f.tensors.at("expected.enc_full"));
  const double masked = max_abs_diff(enc.encode(images, &masks_enc), f.tensors.at("expected.enc_masked"));
  EXPECT_LT(full, kTol);
  EXPECT_LT(masked, kTol);
  EXPECT_LT(max_abs_diff(enc.encode_explicit(images, &masks_enc), f.tensors.at("expected.enc_masked")), kTol);
  std::printf("[ parity ] encoder full %.3g, masked %.3g (max abs diff)\n", full, masked);
}

TEST(VitParity, PredictorAndTargetRows) {
  const Fixture& f = fixture();
  const nlohmann::json& c = f.cfg;
  sdk::BuildContext ctx;
  ctx.encoder_dim = c["embed_dim"];
  ctx.encoder_heads = c["num_heads"];
  const std::int64_t g = c["img_size"].get<std::int64_t>() / c["patch_size"].get<std::int64_t>();
  ctx.grid = {g, g};
  VitPredictorOptions o;
  o.embed_dim = c["pred_embed_dim"];
  o.depth = c["pred_depth"];
  VitPredictor pred(o, ctx);
  ASSERT_NO_THROW(load_named(pred, f.tensors, "predictor."));
  const auto masks_enc = f.masks("enc", c["nenc"]);
  const auto masks_pred = f.masks("pred", c["npred"]);
  at::NoGradGuard no_grad;
  const at::Tensor out = pred.predict(f.tensors.at("expected.enc_masked"), masks_enc, masks_pred);
  const double d = max_abs_diff(out, f.tensors.at("expected.pred"));
  EXPECT_LT(d, kTol);
  std::printf("[ parity ] predictor %.3g (max abs diff)\n", d);

  // Target path of spec §6 with the host's helpers: same rows as the reference.
  const at::Tensor h = f.tensors.at("expected.enc_full");
  const at::Tensor tgt = sdk::repeat_interleave_batch(
      sdk::apply_masks(at::layer_norm(h, {h.size(-1)}, {}, {}, 1e-5), masks_pred), c["batch"].get<std::int64_t>(),
      static_cast<std::int64_t>(masks_enc.size()));
  EXPECT_LT(max_abs_diff(tgt, f.tensors.at("expected.target")), kTol);
}

TEST(VitParity, AnalyticCountsEqualOfficialModules) {
  for (const std::string& name : preset_names()) {
    const VitPreset& p = find_preset(name);
    for (std::int64_t patch : {16, 14}) {
      const std::string key = "count." + name + ".p" + std::to_string(patch);
      const std::int64_t n = (224 / patch) * (224 / patch);
      EXPECT_EQ(std::to_string(vit_encoder_parameter_count(p.embed_dim, p.depth, p.mlp_ratio, patch, 3, n, true)),
                fixture().meta.at(key))
          << key;
    }
  }
}

}  // namespace
}  // namespace ijepa::plugins::vit
