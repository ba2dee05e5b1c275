// VitEncoder compiled in: options, parameter counts, state-dict keys, init, shapes, ordering, attention, linear.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/tensor_ops.hpp"
#include "sincos.hpp"
#include "vit_presets.hpp"
#include "vit_test_util.hpp"

namespace ijepa::plugins::vit {
namespace {

using test::max_abs_diff;
using test::random_masks;
using test::small_encoder_options;

std::int64_t count_params(const torch::nn::Module& m, bool include_fixed) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) {
    if (include_fixed || p.requires_grad()) n += p.numel();
  }
  return n;
}

std::vector<std::string> sorted_keys(const torch::nn::Module& m) {
  std::vector<std::string> keys;
  for (const auto& p : m.named_parameters()) keys.push_back(p.key());
  for (const auto& b : m.named_buffers()) keys.push_back(b.key());
  std::sort(keys.begin(), keys.end());
  return keys;
}

// ---- options ----------------------------------------------------------------------------------------------
TEST(VitEncoderOptions, DefaultsRoundTripAndDocumentEveryKey) {
  const nlohmann::json d = VitEncoderOptions::defaults();
  const nlohmann::json doc = VitEncoderOptions::doc();
  ASSERT_EQ(d.size(), doc.size());
  for (auto it = d.begin(); it != d.end(); ++it) EXPECT_TRUE(doc.contains(it.key())) << it.key();
  const VitEncoderOptions o = VitEncoderOptions::from_json(d);
  EXPECT_EQ(o.preset, "vit_tiny");
  EXPECT_EQ(o.img_size, 224);
  EXPECT_EQ(o.patch_size, 16);
  const VitEncoderOptions r = o.resolved();
  EXPECT_EQ(r.embed_dim, 192);
  EXPECT_EQ(r.depth, 12);
  EXPECT_EQ(r.num_heads, 3);
  EXPECT_DOUBLE_EQ(r.mlp_ratio, 4.0);
}

TEST(VitEncoderOptions, OverridesAndNullsFromJson) {
  const auto o = VitEncoderOptions::from_json(
      {{"preset", "vit_base"}, {"embed_dim", 96}, {"depth", nullptr}, {"num_heads", 0}, {"mlp_ratio", 2}})
                     .resolved();
  EXPECT_EQ(o.embed_dim, 96);
  EXPECT_EQ(o.depth, 12);
  EXPECT_EQ(o.num_heads, 12);
  EXPECT_DOUBLE_EQ(o.mlp_ratio, 2.0);
}

TEST(VitEncoderOptions, PatchSizeMustDivideImageSize) {
  try {
    VitEncoderOptions::from_json({{"img_size", 224}, {"patch_size", 14 + 1}});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("patch_size"), std::string::npos) << msg;
    EXPECT_NE(msg.find("224"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(VitEncoderOptions, RejectsBadValues) {
  EXPECT_THROW(VitEncoderOptions::from_json({{"preset", "vit_enormous"}}), std::invalid_argument);
  EXPECT_THROW(VitEncoderOptions::from_json({{"embed_dim", 190}}), std::invalid_argument);   // not % 4... and heads
  EXPECT_THROW(VitEncoderOptions::from_json({{"num_heads", 5}}), std::invalid_argument);     // 192 % 5
  EXPECT_THROW(VitEncoderOptions::from_json({{"img_size", "224"}}), std::invalid_argument);  // wrong type
}

TEST(VitEncoderOptions, ContextMismatchIsReportedNotFatal) {
  VitEncoderOptions o;
  sdk::BuildContext ctx;
  EXPECT_EQ(context_mismatch(o, ctx), "");
  ctx.image_size = 224;
  ctx.patch_size = 16;
  ctx.grid = {14, 14};
  EXPECT_EQ(context_mismatch(o, ctx), "");
  ctx.image_size = 448;
  EXPECT_NE(context_mismatch(o, ctx).find("image_size 448"), std::string::npos);
}

// ---- parameter counts (spec §3.1) ---------------------------------------------------------------------------
TEST(VitEncoderParams, RealModulesMatchAnalyticCountAndSpecTable) {
  struct Case { const char* preset; std::int64_t patch; double table_m; };
  for (const Case& c : {Case{"vit_tiny", 16, 5.49}, Case{"vit_small", 16, 21.6}, Case{"vit_base", 16, 85.7}}) {
    VitEncoderOptions o;
    o.preset = c.preset;
    o.patch_size = c.patch;
    const VitEncoder enc(o);
    const auto& r = enc.options();
    const std::int64_t trainable = count_params(enc, /*include_fixed=*/false);
    EXPECT_EQ(trainable, vit_encoder_parameter_count(r.embed_dim, r.depth, r.mlp_ratio, r.patch_size, r.in_chans,
                                                     enc.num_patches(), false))
        << c.preset;
    EXPECT_EQ(count_params(enc, true), trainable + enc.num_patches() * r.embed_dim) << c.preset;
    // The spec table rounds to 0.1M (base p16 is 85,646,592, listed as 85.7M), hence 0.06M.
    EXPECT_NEAR(static_cast<double>(trainable) / 1e6, c.table_m, 0.06) << c.preset;
  }
}

TEST(VitEncoderParams, AnalyticCountsEqualOfficialModules) {
  // Totals including the pos-embed of the official VisionTransformer at 224 px, counted by
  // tests/fixtures/parity/make_parity.py on the meta device (also re-checked by the parity test).
  struct Case { const char* preset; std::int64_t patch; std::int64_t official_total; double table_m; };
  const Case cases[] = {
      {"vit_tiny", 16, 5524032, 5.49},       {"vit_tiny", 14, 5500992, 5.45},
      {"vit_small", 16, 21664896, 21.6},     {"vit_small", 14, 21618816, 21.5},
      {"vit_base", 16, 85797120, 85.7},      {"vit_base", 14, 85704960, 85.5},
      {"vit_large", 16, 303299584, 303.1},   {"vit_large", 14, 303176704, 302.9},
      {"vit_huge", 16, 630915840, 630.7},    {"vit_huge", 14, 630762240, 630.4},
      {"vit_giant", 16, 1011368576, 1011.1}, {"vit_giant", 14, 1011199616, 1010.8},
  };
  for (const Case& c : cases) {
    const VitPreset& p = find_preset(c.preset);
    const std::int64_t n = (224 / c.patch) * (224 / c.patch);
    EXPECT_EQ(vit_encoder_parameter_count(p.embed_dim, p.depth, p.mlp_ratio, c.patch, 3, n, true), c.official_total)
        << c.preset << " p" << c.patch;
    const auto excl = vit_encoder_parameter_count(p.embed_dim, p.depth, p.mlp_ratio, c.patch, 3, n, false);
    EXPECT_NEAR(static_cast<double>(excl) / 1e6, c.table_m, 0.06) << c.preset << " p" << c.patch;  // see above
  }
  EXPECT_EQ(vit_encoder_parameter_count(1280, 32, 4.0, 14, 3, 256, false), 630434560);  // ViT-H/14, 630.4M
  EXPECT_EQ(vit_encoder_parameter_count(192, 12, 4.0, 16, 3, 196, false), 5486400);     // ViT-Ti/16, 5.49M
  EXPECT_EQ(vit_encoder_parameter_count(768, 12, 4.0, 16, 3, 196, false), 85646592);    // ViT-B/16
  EXPECT_EQ(mlp_hidden(1408, find_preset("vit_giant").mlp_ratio), 6144);
}

// ---- names and init ---------------------------------------------------------------------------------------
TEST(VitEncoderModule, StateDictKeysOfDepthOneModel) {
  VitEncoderOptions o = small_encoder_options();
  o.depth = 1;
  const VitEncoder enc(o);
  std::vector<std::string> expected = {
      "blocks.0.attn.proj.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.qkv.weight",
      "blocks.0.mlp.fc1.bias",   "blocks.0.mlp.fc1.weight",   "blocks.0.mlp.fc2.bias",  "blocks.0.mlp.fc2.weight",
      "blocks.0.norm1.bias",     "blocks.0.norm1.weight",     "blocks.0.norm2.bias",    "blocks.0.norm2.weight",
      "norm.bias",               "norm.weight",               "patch_embed.proj.bias",  "patch_embed.proj.weight",
      "pos_embed"};
  EXPECT_EQ(sorted_keys(enc), expected);
  for (const auto& p : enc.named_parameters()) EXPECT_EQ(p.value().requires_grad(), p.key() != "pos_embed") << p.key();
  const at::Tensor pos = enc.named_parameters()["pos_embed"];
  EXPECT_EQ(pos.sizes(), (at::IntArrayRef{1, 16, 64}));
  EXPECT_TRUE(at::equal(pos[0], sincos_pos_embed_2d(64, 4, 4)));
}

TEST(VitEncoderModule, EffectiveInitWithoutDepthRescale) {
  at::manual_seed(3);
  VitEncoderOptions o;  // vit_tiny: 12 blocks, so a depth rescale of block 12 would divide by sqrt(24)
  const VitEncoder enc(o);
  auto params = enc.named_parameters();
  auto std_of = [&](const char* k) { return params[k].std().item<double>(); };
  for (const char* k : {"blocks.0.attn.qkv.weight", "blocks.11.attn.proj.weight", "blocks.11.mlp.fc2.weight",
                        "blocks.5.mlp.fc1.weight", "patch_embed.proj.weight"}) {
    EXPECT_NEAR(std_of(k), 0.02, 0.001) << k;
    EXPECT_NEAR(params[k].mean().item<double>(), 0.0, 0.001) << k;
  }
  for (const auto& p : params) {
    const std::string& k = p.key();
    if (k.size() > 5 && k.compare(k.size() - 5, 5, ".bias") == 0) {
      EXPECT_EQ(p.value().abs().max().item<double>(), 0.0) << k;
    }
    if (k.find("norm") != std::string::npos && k.find(".weight") != std::string::npos) {
      EXPECT_TRUE(at::all(p.value() == 1.0).item<bool>()) << k;
    }
  }
}

TEST(VitEncoderModule, DeterministicGivenGlobalSeed) {
  at::manual_seed(11);
  const VitEncoder a(small_encoder_options());
  at::manual_seed(11);
  const VitEncoder b(small_encoder_options());
  auto pb = b.named_parameters();
  for (const auto& p : a.named_parameters()) EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
}

// ---- forward ----------------------------------------------------------------------------------------------
TEST(VitEncoderForward, ShapesFullAndMasked) {
  at::manual_seed(0);
  VitEncoder enc(small_encoder_options());
  const at::Tensor images = at::randn({3, 3, 32, 32});
  EXPECT_EQ(enc.encode(images, nullptr).sizes(), (at::IntArrayRef{3, 16, 64}));
  const auto keep = random_masks(2, 3, 16, 5);
  EXPECT_EQ(enc.encode(images, &keep).sizes(), (at::IntArrayRef{6, 5, 64}));
  EXPECT_EQ(enc.grid().h, 4);
  EXPECT_EQ(enc.grid().w, 4);
  EXPECT_THROW(enc.encode(at::randn({1, 3, 64, 64}), nullptr), std::invalid_argument);
}

TEST(VitEncoderForward, MaskMajorAndMaskingBeforeBlocks) {
  at::manual_seed(1);
  VitEncoder enc(small_encoder_options());
  const at::Tensor images = at::randn({2, 3, 32, 32});
  const auto keep = random_masks(2, 2, 16, 6);
  const at::Tensor both = enc.encode(images, &keep);
  for (std::size_t m = 0; m < keep.size(); ++m) {
    const std::vector<at::Tensor> one = {keep[m]};
    EXPECT_LT(max_abs_diff(both.narrow(0, static_cast<std::int64_t>(m) * 2, 2), enc.encode(images, &one)), 1e-6);
  }
  // Keeping every patch reproduces the full pass; keeping a subset is NOT a subset of the full output
  // (masking happens before the blocks, so the kept tokens only attend to each other).
  const std::vector<at::Tensor> all = {at::arange(16).unsqueeze(0).expand({2, 16}).contiguous()};
  EXPECT_LT(max_abs_diff(enc.encode(images, &all), enc.encode(images, nullptr)), 1e-5);
  const at::Tensor full_gathered = sdk::apply_masks(enc.encode(images, nullptr), keep);
  EXPECT_GT(max_abs_diff(both, full_gathered), 1e-3);
}

// The `attention` key picks the kernel of forward(): sdpa and explicit are exactly forward_fused and
// forward_explicit; an encoder built with each computes the same function; an unknown name is one line.
TEST(VitEncoderForward, AttentionKeyPicksTheKernel) {
  at::manual_seed(2);
  VitAttention attn(64, 4);
  const at::Tensor x = at::randn({3, 10, 64});
  EXPECT_EQ(attn->kernel(), AttentionKernel::kAuto);
  attn->set_kernel(parse_attention_kernel("sdpa"));
  EXPECT_TRUE(at::equal(attn->forward(x), attn->forward_fused(x)));
  attn->set_kernel(parse_attention_kernel("explicit"));
  EXPECT_TRUE(at::equal(attn->forward(x), attn->forward_explicit(x)));
  EXPECT_TRUE(at::equal(attn->forward_from(x, 4), attn->forward_explicit(x).narrow(1, 4, 6)));
  VitEncoderOptions o = small_encoder_options();
  o.attention = "sdpa";
  at::manual_seed(5);
  VitEncoder sdpa(VitEncoderOptions::from_json(o.to_json()));
  o.attention = "explicit";
  at::manual_seed(5);
  VitEncoder expl(VitEncoderOptions::from_json(o.to_json()));
  const at::Tensor images = at::randn({2, 3, 32, 32});
  EXPECT_LT(max_abs_diff(sdpa.encode(images, nullptr), expl.encode(images, nullptr)), 1e-5);
  o.attention = "flash";
  try {
    VitEncoderOptions::from_json(o.to_json());
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "key 'attention': must be \"auto\", \"sdpa\" or \"explicit\", got \"flash\"");
  }
}

// The `linear` key picks the kernel of every linear layer (sdk::linear): an encoder built with each computes the
// same function and the same gradients (oneDNN for fp32 on the CPU against at::linear's MKL sgemm); an unknown name
// is one line.
TEST(VitEncoderForward, LinearKeyPicksTheKernel) {
  VitEncoderOptions o = small_encoder_options();
  const at::Tensor images = at::randn({2, 3, 32, 32});
  std::vector<at::Tensor> out, grads;
  for (const char* k : {"auto", "aten"}) {
    o.linear = k;
    at::manual_seed(5);
    VitEncoder enc(VitEncoderOptions::from_json(o.to_json()));
    const at::Tensor y = enc.encode(images, nullptr);
    y.pow(2).sum().backward();
    out.push_back(y.detach());
    grads.push_back(enc.named_parameters()["blocks.0.attn.qkv.weight"].grad().clone());
  }
  EXPECT_LT(max_abs_diff(out[0], out[1]), 1e-5);
  EXPECT_LT(max_abs_diff(grads[0], grads[1]), 1e-4 * std::max(1.0, grads[1].abs().max().item<double>()));
  o.linear = "mkl";
  try {
    VitEncoderOptions::from_json(o.to_json());
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "key 'linear': must be \"auto\" or \"aten\", got \"mkl\"");
  }
}

TEST(VitEncoderForward, FusedAttentionEqualsExplicitSoftmax) {
  at::manual_seed(2);
  VitAttention attn(64, 4);
  const at::Tensor x = at::randn({3, 10, 64});
  EXPECT_LT(max_abs_diff(attn->forward_fused(x), attn->forward_explicit(x)), 1e-5);
  EXPECT_LT(max_abs_diff(attn->forward(x), attn->forward_fused(x)), 1e-5);
  VitEncoder enc(small_encoder_options());
  const at::Tensor images = at::randn({2, 3, 32, 32});
  const auto keep = random_masks(1, 2, 16, 7);
  EXPECT_LT(max_abs_diff(enc.encode(images, nullptr), enc.encode_explicit(images, nullptr)), 1e-5);
  EXPECT_LT(max_abs_diff(enc.encode(images, &keep), enc.encode_explicit(images, &keep)), 1e-5);
}

// forward_from computes only the kept query rows; they equal the full block's rows (values and gradients).
TEST(VitEncoderForward, BlockRowsFromEqualTheWholeBlock) {
  at::manual_seed(3);
  VitBlock blk(64, 4, 4.0);
  const at::Tensor x = at::randn({3, 10, 64}).requires_grad_(true);
  const at::Tensor full = blk->forward(x).narrow(1, 6, 4);
  const at::Tensor from = blk->forward_from(x, 6);
  ASSERT_EQ(from.sizes(), full.sizes());
  EXPECT_LT(max_abs_diff(from, full), 1e-5);
  const at::Tensor g_full = torch::autograd::grad({full.pow(2).sum()}, {x})[0];
  const at::Tensor g_from = torch::autograd::grad({from.pow(2).sum()}, {x})[0];
  EXPECT_LT(max_abs_diff(g_from, g_full), 1e-5);
  EXPECT_GT(g_full.narrow(1, 0, 6).abs().max().item<double>(), 1e-4);  // the dropped rows still feed keys/values
  EXPECT_THROW(blk->attn->forward_from(x, 10), std::invalid_argument);
}

TEST(VitEncoderForward, GradientsReachEveryTrainableParameter) {
  at::manual_seed(4);
  VitEncoder enc(small_encoder_options());
  const auto keep = random_masks(1, 2, 16, 5);
  enc.encode(at::randn({2, 3, 32, 32}), &keep).pow(2).sum().backward();
  for (const auto& p : enc.named_parameters()) {
    if (!p.value().requires_grad()) {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
      continue;
    }
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// ---- capabilities -----------------------------------------------------------------------------------------
TEST(VitEncoderCapabilities, AttentionMapsShapeRowsSumToOne) {
  at::manual_seed(5);
  VitEncoder enc(small_encoder_options());
  const sdk::Encoder& base = enc;
  ASSERT_EQ(base.capability("ijepa.nothing/1"), nullptr);
  const auto* maps = static_cast<const sdk::AttentionMaps*>(base.capability(sdk::kAttentionMapsId));
  ASSERT_NE(maps, nullptr);
  const at::Tensor images = at::randn({2, 3, 32, 32});
  for (std::int64_t block : {0, 1, -1}) {
    const at::Tensor a = maps->attention(images, block);
    EXPECT_EQ(a.sizes(), (at::IntArrayRef{2, 4, 16, 16}));
    EXPECT_EQ(a.scalar_type(), at::kFloat);
    EXPECT_FALSE(a.requires_grad());
    EXPECT_LT(max_abs_diff(a.sum(-1), at::ones({2, 4, 16})), 1e-5);
    EXPECT_GE(a.min().item<double>(), 0.0);
  }
  EXPECT_TRUE(at::equal(maps->attention(images, -1), maps->attention(images, 1)));
  EXPECT_THROW(maps->attention(images, 2), std::out_of_range);
}

TEST(VitEncoderCapabilities, LayerOutputsEndWithTheEncoderOutput) {
  at::manual_seed(6);
  VitEncoder enc(small_encoder_options());
  const auto* layers = static_cast<const sdk::LayerOutputs*>(enc.capability(sdk::kLayerOutputsId));
  ASSERT_NE(layers, nullptr);
  const at::Tensor images = at::randn({2, 3, 32, 32});
  const auto outs = layers->last_layers(images, 2);
  ASSERT_EQ(outs.size(), 2u);
  for (const auto& o : outs) EXPECT_EQ(o.sizes(), (at::IntArrayRef{2, 16, 64}));
  EXPECT_LT(max_abs_diff(outs[1], enc.encode(images, nullptr)), 1e-6);
  EXPECT_GT(max_abs_diff(outs[0], outs[1]), 1e-3);
  EXPECT_THROW(layers->last_layers(images, 3), std::out_of_range);
}

}  // namespace
}  // namespace ijepa::plugins::vit
