// The analytic FLOP count of `ijepa bench train` against hand counts (docs/benchmarks.md, "Training step").
#include <gtest/gtest.h>

#include "ijepa/host/bench/flops.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "host/run/test_util.hpp"

using namespace ijepa::host::bench;

namespace {

// Image 4 px, patch 2 (N = 4 tokens, C*p*p = 12), encoder D 8, depth 1, MLP 32; predictor D_p 4, depth 1, MLP 16.
StepShape tiny() {
  StepShape s;
  s.batch = 1;
  s.image_size = 4;
  s.patch = 2;
  s.in_chans = 3;
  s.encoder = {8, 1, 2, 32};
  s.predictor = {4, 1, 2, 16};
  s.nenc = 1;
  s.npred = 1;
  s.k_enc = 2;
  s.k_pred = 1;
  return s;
}

}  // namespace

TEST(BenchFlops, EncoderBlockHandCount) {
  // One block, T tokens, D 8, H 32: qkv 2*T*8*24 = 384T, q k^T 2*T*T*8 = 16T^2, attn v 16T^2, proj 2*T*8*8 = 128T,
  // fc1 2*T*8*32 = 512T, fc2 512T  ->  1536T + 32T^2.
  const VitStack s{8, 1, 2, 32};
  EXPECT_DOUBLE_EQ(vit_blocks_forward_flops(1, 4, s), 1536.0 * 4 + 32.0 * 16);  // 6656
  EXPECT_DOUBLE_EQ(vit_blocks_forward_flops(1, 2, s), 1536.0 * 2 + 32.0 * 4);   // 3200
  EXPECT_DOUBLE_EQ(vit_blocks_forward_flops(3, 2, VitStack{8, 2, 2, 32}), 6 * 3200.0);
}

TEST(BenchFlops, TinyStepHandCount) {
  const StepFlops f = train_step_flops(tiny());
  // patch embed 2*4*12*8 = 768 per image
  EXPECT_DOUBLE_EQ(f.target_forward, 768 + 6656);   // all 4 tokens
  EXPECT_DOUBLE_EQ(f.context_forward, 768 + 3200);  // patch embed on N, blocks on K_enc = 2
  // predictor: embed 2*2*8*4 = 128; block on K_enc + K_pred = 3 tokens at D_p 4, MLP 16:
  // qkv 2*3*4*12 = 288, q k^T 2*9*4 = 72, attn v 72, proj 2*3*4*4 = 96, fc1 2*3*4*16 = 384, fc2 384 -> 1296;
  // predictor_proj on the K_pred = 1 output token: 2*1*4*8 = 64.
  EXPECT_DOUBLE_EQ(f.predictor_forward, 128 + 1296 + 64);
  EXPECT_DOUBLE_EQ(f.total, 7424 + 3.0 * (3968 + 1488));  // 23792
}

TEST(BenchFlops, ScalesWithBatchAndMasks) {
  StepShape s = tiny();
  s.batch = 2;
  s.npred = 2;  // predictor rows = npred * nenc * B = 4
  const StepFlops f = train_step_flops(s);
  EXPECT_DOUBLE_EQ(f.target_forward, 2 * 7424.0);
  EXPECT_DOUBLE_EQ(f.context_forward, 2 * 3968.0);
  EXPECT_DOUBLE_EQ(f.predictor_forward, 2 * 128.0 + 4 * 1296.0 + 4 * 64.0);
  EXPECT_DOUBLE_EQ(f.total, 14848 + 3.0 * (7936 + 5696));
}

TEST(BenchFlops, VitBase16ForwardMatchesPublishedCount) {
  // ViT-B/16 at 224 px (196 tokens, no CLS token): about 17.5 G multiply-adds per image, the usual published figure.
  StepShape s;
  s.batch = 1;
  s.image_size = 224;
  s.patch = 16;
  s.encoder = {768, 12, 12, 3072};
  s.predictor = {384, 6, 12, 1536};
  s.k_enc = 0;
  s.k_pred = 0;
  const StepFlops f = train_step_flops(s);
  EXPECT_NEAR(f.target_forward / 2.0, 17.5e9, 0.1e9);
}

// The shapes come from the encoder plugin (its presets, its "ijepa.block_shape/1" capability), built here on a
// one-patch image; `depth` overrides the preset's block count so that even ViT-H stays small.
VitStack built_stack(const std::string& preset, std::int64_t depth = 0) {
  const auto& reg = ijepa::test::builtin_plugins().registry();
  nlohmann::json cfg = {{"type", "vit"}, {"preset", preset}, {"patch_size", 14}, {"img_size", 14}};
  if (depth > 0) cfg["depth"] = depth;
  const auto enc = reg.make_encoder(cfg, ijepa::host::build_context(14, 14, 0), "components.encoder");
  return encoder_stack(*enc);
}

TEST(BenchFlops, PresetsAndPredictorDefaults) {
  const VitStack huge = built_stack("vit_huge", 1), base = built_stack("vit_base"), tiny = built_stack("vit_tiny");
  EXPECT_EQ(huge.dim, 1280);
  EXPECT_EQ(huge.heads, 16);
  EXPECT_EQ(huge.mlp_hidden, 5120);
  EXPECT_EQ(base.depth, 12);
  EXPECT_THROW(built_stack("vit_nano"), std::exception);
  EXPECT_EQ(default_pred_dim(tiny), 192);
  EXPECT_EQ(default_pred_dim(base), 384);
  EXPECT_EQ(default_pred_depth(base), 6);
  EXPECT_EQ(default_pred_depth(VitStack{1280, 32, 16, 5120}), 12);  // ViT-H/14's 32 blocks (spec 3.1)
}
