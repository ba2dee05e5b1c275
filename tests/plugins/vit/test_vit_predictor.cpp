// VitPredictor compiled in: options, keys, shapes, and the row order of spec §4 with nenc = 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "ijepa/sdk/tensor_ops.hpp"
#include "sincos.hpp"
#include "vit_test_util.hpp"

namespace ijepa::plugins::vit {
namespace {

using test::max_abs_diff;
using test::predictor_context;
using test::random_masks;
using test::small_encoder_options;

VitPredictorOptions small_predictor_options() {
  VitPredictorOptions o;
  o.embed_dim = 32;
  o.depth = 2;
  return o;
}

TEST(VitPredictorOptions, DefaultsRoundTripAndDocumentEveryKey) {
  const nlohmann::json d = VitPredictorOptions::defaults();
  const nlohmann::json doc = VitPredictorOptions::doc();
  ASSERT_EQ(d.size(), doc.size());
  for (auto it = d.begin(); it != d.end(); ++it) EXPECT_TRUE(doc.contains(it.key())) << it.key();
  const auto o = VitPredictorOptions::from_json(d);
  EXPECT_EQ(o.embed_dim, 384);
  EXPECT_EQ(o.depth, 6);
  EXPECT_EQ(o.num_heads, 0);
  EXPECT_DOUBLE_EQ(o.mlp_ratio, 4.0);
  EXPECT_EQ(o.output_dim, 0);
  EXPECT_THROW(VitPredictorOptions::from_json({{"embed_dim", 30}}), std::invalid_argument);
  EXPECT_EQ(o.attention, "auto");
  EXPECT_THROW(VitPredictorOptions::from_json({{"attention", "flash"}}), std::invalid_argument);
  EXPECT_EQ(o.linear, "auto");
  EXPECT_EQ(VitPredictorOptions::from_json({{"linear", "aten"}}).linear, "aten");
  EXPECT_THROW(VitPredictorOptions::from_json({{"linear", "mkl"}}), std::invalid_argument);
}

TEST(VitPredictorModule, NeedsEncoderFactsFromContext) {
  sdk::BuildContext ctx;
  EXPECT_THROW(VitPredictor(small_predictor_options(), ctx), std::invalid_argument);
  ctx.encoder_dim = 64;
  ctx.grid = {4, 4};
  EXPECT_THROW(VitPredictor(small_predictor_options(), ctx), std::invalid_argument);  // heads unknown
  ctx.encoder_heads = 4;
  const VitPredictor p(small_predictor_options(), ctx);
  EXPECT_EQ(p.options().num_heads, 4);
  EXPECT_EQ(p.output_dim(), 64);
  ctx.encoder_heads = 3;  // 32 % 3 != 0
  EXPECT_THROW(VitPredictor(small_predictor_options(), ctx), std::invalid_argument);
}

TEST(VitPredictorModule, StateDictKeysOfDepthOneModel) {
  sdk::BuildContext ctx;
  ctx.encoder_dim = 64;
  ctx.encoder_heads = 4;
  ctx.grid = {4, 4};
  VitPredictorOptions o = small_predictor_options();
  o.depth = 1;
  const VitPredictor p(o, ctx);
  std::vector<std::string> keys;
  for (const auto& kv : p.named_parameters()) keys.push_back(kv.key());
  for (const auto& kv : p.named_buffers()) keys.push_back(kv.key());
  std::sort(keys.begin(), keys.end());
  const std::vector<std::string> expected = {
      "mask_token",
      "predictor_blocks.0.attn.proj.bias", "predictor_blocks.0.attn.proj.weight",
      "predictor_blocks.0.attn.qkv.bias",  "predictor_blocks.0.attn.qkv.weight",
      "predictor_blocks.0.mlp.fc1.bias",   "predictor_blocks.0.mlp.fc1.weight",
      "predictor_blocks.0.mlp.fc2.bias",   "predictor_blocks.0.mlp.fc2.weight",
      "predictor_blocks.0.norm1.bias",     "predictor_blocks.0.norm1.weight",
      "predictor_blocks.0.norm2.bias",     "predictor_blocks.0.norm2.weight",
      "predictor_embed.bias",              "predictor_embed.weight",
      "predictor_norm.bias",               "predictor_norm.weight",
      "predictor_pos_embed",
      "predictor_proj.bias",               "predictor_proj.weight"};
  EXPECT_EQ(keys, expected);
  auto params = p.named_parameters();
  EXPECT_FALSE(params["predictor_pos_embed"].requires_grad());
  EXPECT_TRUE(params["mask_token"].requires_grad());
  EXPECT_EQ(params["mask_token"].sizes(), (at::IntArrayRef{1, 1, 32}));
  EXPECT_EQ(params["predictor_proj.weight"].sizes(), (at::IntArrayRef{64, 32}));
  EXPECT_EQ(params["predictor_embed.weight"].sizes(), (at::IntArrayRef{32, 64}));
  EXPECT_TRUE(at::equal(params["predictor_pos_embed"][0], sincos_pos_embed_2d(32, 4, 4)));
}

TEST(VitPredictorModule, MaskTokenAndLinearInit) {
  at::manual_seed(8);
  sdk::BuildContext ctx;
  ctx.encoder_dim = 768;
  ctx.encoder_heads = 12;
  ctx.grid = {14, 14};
  const VitPredictor p(VitPredictorOptions{}, ctx);  // init_model defaults: 384 wide, 6 deep
  auto params = p.named_parameters();
  EXPECT_NEAR(params["mask_token"].std().item<double>(), 0.02, 0.004);
  EXPECT_NEAR(params["predictor_blocks.5.mlp.fc2.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_NEAR(params["predictor_embed.weight"].std().item<double>(), 0.02, 0.001);
  EXPECT_EQ(params["predictor_proj.bias"].abs().max().item<double>(), 0.0);
  EXPECT_TRUE(at::all(params["predictor_norm.weight"] == 1.0).item<bool>());
}

TEST(VitPredictorForward, OutputShapeAndOutputDim) {
  at::manual_seed(9);
  VitEncoder enc(small_encoder_options());
  sdk::BuildContext ctx = predictor_context(enc);
  VitPredictorOptions o = small_predictor_options();
  VitPredictor pred(o, ctx);
  const std::int64_t B = 3;
  const auto mctx = random_masks(2, B, 16, 6);
  const auto mtgt = random_masks(4, B, 16, 3);
  const at::Tensor z = enc.encode(at::randn({B, 3, 32, 32}), &mctx);
  EXPECT_EQ(pred.predict(z, mctx, mtgt).sizes(), (at::IntArrayRef{4 * 2 * B, 3, 64}));
  o.output_dim = 10;
  VitPredictor narrow(o, ctx);
  EXPECT_EQ(narrow.predict(z, mctx, mtgt).sizes(), (at::IntArrayRef{4 * 2 * B, 3, 10}));
  EXPECT_LT(max_abs_diff(pred.predict(z, mctx, mtgt), pred.predict_explicit(z, mctx, mtgt)), 1e-5);
}

// predict() runs the last block on the target rows only; predict_explicit() runs every block whole, as the
// reference does. The outputs and the gradients (inputs and every parameter) agree.
TEST(VitPredictorForward, TrimmedLastBlockMatchesTheReferenceGradients) {
  at::manual_seed(12);
  VitEncoder enc(small_encoder_options());
  VitPredictor pred(small_predictor_options(), predictor_context(enc));
  const std::int64_t B = 2;
  const auto mctx = random_masks(1, B, 16, 7);
  const auto mtgt = random_masks(3, B, 16, 4);
  const at::Tensor z = enc.encode(at::randn({B, 3, 32, 32}), &mctx).detach().requires_grad_(true);
  auto grads = [&](bool reference) {
    pred.zero_grad();
    const at::Tensor out = reference ? pred.predict_explicit(z, mctx, mtgt) : pred.predict(z, mctx, mtgt);
    const at::Tensor gz = torch::autograd::grad({out.pow(2).sum()}, {z}, {}, /*retain_graph=*/true)[0];
    out.pow(2).sum().backward();
    std::vector<at::Tensor> g = {out.detach(), gz};
    for (const auto& p : pred.parameters()) {
      if (p.requires_grad()) g.push_back(p.grad().clone());
    }
    return g;
  };
  const auto fast = grads(false);
  const auto ref = grads(true);
  ASSERT_EQ(fast.size(), ref.size());
  for (std::size_t i = 0; i < fast.size(); ++i) EXPECT_LT(max_abs_diff(fast[i], ref[i]), 1e-5) << "tensor " << i;
}

// Spec §4: row = i*(nenc*B) + e*B + b for target i, context e, image b -- on the predictor side (tiling) and
// on the target side (repeat_interleave_batch), so the loss pairs prediction and target of the same triple.
TEST(VitPredictorForward, RowOrderWithTwoContextMasks) {
  at::manual_seed(10);
  VitEncoder enc(small_encoder_options());
  VitPredictor pred(small_predictor_options(), predictor_context(enc));
  const std::int64_t B = 2, nenc = 2, npred = 3;
  const at::Tensor images = at::randn({B, 3, 32, 32});
  const auto mctx = random_masks(static_cast<int>(nenc), B, 16, 5);
  const auto mtgt = random_masks(static_cast<int>(npred), B, 16, 4);
  const at::Tensor z = enc.encode(images, &mctx);                   // [nenc*B, 5, 64]
  const at::Tensor out = pred.predict(z, mctx, mtgt);               // [npred*nenc*B, 4, 64]
  const at::Tensor h = enc.encode(images, nullptr);
  const at::Tensor tgt = sdk::repeat_interleave_batch(sdk::apply_masks(h, mtgt), B, nenc);
  ASSERT_EQ(out.sizes(), tgt.sizes());
  for (std::int64_t i = 0; i < npred; ++i) {
    for (std::int64_t e = 0; e < nenc; ++e) {
      for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t row = i * (nenc * B) + e * B + b;
        const auto ei = static_cast<std::size_t>(e), ii = static_cast<std::size_t>(i);
        // The prediction for (i, e, b) alone: one image, one context, one target.
        const at::Tensor zc = z.narrow(0, e * B + b, 1);
        const std::vector<at::Tensor> mc = {mctx[ei].narrow(0, b, 1)};
        const std::vector<at::Tensor> mt = {mtgt[ii].narrow(0, b, 1)};
        EXPECT_LT(max_abs_diff(out.narrow(0, row, 1), pred.predict(zc, mc, mt)), 1e-5) << i << e << b;
        // The target row for (i, e, b) is target block i of image b.
        EXPECT_TRUE(at::equal(tgt[row], sdk::apply_masks(h.narrow(0, b, 1), mt)[0])) << i << e << b;
      }
    }
  }
}

}  // namespace
}  // namespace ijepa::plugins::vit
