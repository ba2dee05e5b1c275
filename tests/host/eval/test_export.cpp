// `ijepa export`: the timm and Hugging Face layouts of a trained encoder, loaded by timm and transformers themselves
// (pinned in the venv; skipped without them) and compared with `ijepa embed` on the same pixels; the layouts' keys
// and shapes on their own; bad input refused with nothing touched.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "host/run/test_util.hpp"
#include "ijepa/host/eval/export.hpp"

namespace fs = std::filesystem;
using namespace ijepa;
using namespace ijepa::host;

namespace ijepa::test {  // tests/host/data/fixtures.cpp, compiled into this test
at::Tensor pattern_rgb(std::int64_t h, std::int64_t w, int seed);
std::string encode_png(const at::Tensor& pixels);
void write_bytes(const std::filesystem::path& p, const std::string& bytes);
}  // namespace ijepa::test

namespace {

TensorMap official_tiny(std::int64_t d, std::int64_t depth, std::int64_t hidden, std::int64_t p, std::int64_t n) {
  TensorMap m;
  m["patch_embed.proj.weight"] = at::randn({d, 3, p, p});
  m["patch_embed.proj.bias"] = at::randn({d});
  m["pos_embed"] = at::randn({1, n, d});
  for (std::int64_t i = 0; i < depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    m[b + "norm1.weight"] = at::randn({d});
    m[b + "norm1.bias"] = at::randn({d});
    m[b + "attn.qkv.weight"] = at::randn({3 * d, d});
    m[b + "attn.qkv.bias"] = at::randn({3 * d});
    m[b + "attn.proj.weight"] = at::randn({d, d});
    m[b + "attn.proj.bias"] = at::randn({d});
    m[b + "norm2.weight"] = at::randn({d});
    m[b + "norm2.bias"] = at::randn({d});
    m[b + "mlp.fc1.weight"] = at::randn({hidden, d});
    m[b + "mlp.fc1.bias"] = at::randn({hidden});
    m[b + "mlp.fc2.weight"] = at::randn({d, hidden});
    m[b + "mlp.fc2.bias"] = at::randn({d});
  }
  m["norm.weight"] = at::randn({d});
  m["norm.bias"] = at::randn({d});
  return m;
}

// Trains the tiny experiment for max_steps into dir/run (config in dir/e.json): the exit status, output in *out.
int train_tiny_run(const fs::path& dir, int max_steps, std::string* out) {
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["max_steps"] = max_steps;
  test::write_text(dir / "e.json", cfg.dump());
  return test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "run").string() + " --quiet", out);
}

}  // namespace

// The Hugging Face layout is IJepaModel.save_pretrained's: qkv split into query/key/value, every tensor placed once.
TEST(Export, HfLayoutSplitsQkvAndRenamesEveryTensor) {
  VitShape s;
  s.embed_dim = 8;
  s.depth = 2;
  s.mlp_hidden = 32;
  const TensorMap off = official_tiny(8, 2, 32, 4, 16);
  const TensorMap hf = hf_state(off, s);
  EXPECT_EQ(hf.size(), off.size() + 2 * 4);  // per block: qkv weight and bias become three each
  EXPECT_TRUE(at::equal(hf.at("encoder.layer.1.attention.attention.key.weight"),
                        off.at("blocks.1.attn.qkv.weight").slice(0, 8, 16)));
  EXPECT_TRUE(at::equal(hf.at("encoder.layer.0.attention.attention.value.bias"), off.at("blocks.0.attn.qkv.bias").slice(0, 16)));
  EXPECT_TRUE(at::equal(hf.at("encoder.layer.0.intermediate.dense.weight"), off.at("blocks.0.mlp.fc1.weight")));
  EXPECT_TRUE(at::equal(hf.at("encoder.layer.1.layernorm_after.bias"), off.at("blocks.1.norm2.bias")));
  EXPECT_TRUE(at::equal(hf.at("embeddings.position_embeddings"), off.at("pos_embed")));
  EXPECT_TRUE(at::equal(hf.at("layernorm.weight"), off.at("norm.weight")));
  const nlohmann::json c = hf_config(s);
  EXPECT_EQ(c["intermediate_size"], 32);
  EXPECT_EQ(c["layer_norm_eps"], 1e-6);
  EXPECT_EQ(c["model_type"], "ijepa");
}

// timm: the official names are timm's; the architecture is the registered gap ViT when the shape is one of them.
TEST(Export, TimmArchitectureNamesTheRegisteredModelWhenTheShapeIsOne) {
  VitShape h;
  h.embed_dim = 1280;
  h.depth = 32;
  h.patch_size = 14;
  h.img_size = 224;
  h.num_heads = 16;
  h.mlp_hidden = 5120;
  EXPECT_EQ(timm_architecture(h), "vit_huge_patch14_gap_224");
  EXPECT_EQ(timm_config(h)["model_args"]["mlp_ratio"], 4.0);
  h.img_size = 32;  // any other shape: the same class, every dimension in model_args
  EXPECT_EQ(timm_architecture(h), "vit_base_patch16_gap_224");
  EXPECT_EQ(timm_config(h)["model_args"]["img_size"], 32);
  EXPECT_EQ(timm_config(h)["model_args"]["class_token"], false);
}

TEST(Export, TimmAndTransformersLoadItAndMatchEmbed) {
  const fs::path dir = test::temp_dir("export");
  std::string out;
  ASSERT_EQ(train_tiny_run(dir, 2, &out), 0) << out;
  for (int i = 0; i < 6; ++i) {
    fs::create_directories(dir / "img" / "a");
    test::write_bytes(dir / "img" / "a" / ("im" + std::to_string(i) + ".png"), test::encode_png(test::pattern_rgb(32, 32, i)));
  }
  for (const char* f : {"timm", "hf"}) {
    ASSERT_EQ(test::run_cli("export " + (dir / "run").string() + " --format " + f + " --out " + (dir / f).string(), &out), 0)
        << out;
    EXPECT_NE(out.find("load with"), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(dir / f / "config.json"));
    EXPECT_TRUE(fs::exists(dir / f / "model.safetensors"));
  }
  // Images of other sizes than the model's: the preprocessing each export declares must be the workbench's own.
  for (int i = 0; i < 4; ++i) {
    fs::create_directories(dir / "eval_img" / "a");
    test::write_bytes(dir / "eval_img" / "a" / ("im" + std::to_string(i) + ".png"),
                      test::encode_png(i % 2 == 0 ? test::pattern_rgb(48, 61, 10 + i)
                                                  : test::pattern_rgb(70, 45, 10 + i)));
  }
  ASSERT_EQ(test::run_cli("embed --checkpoint " + (dir / "run").string() + " --data " + (dir / "eval_img").string() +
                              " --transform eval --pooled --out " + (dir / "eval_pooled.safetensors").string(),
                          &out),
            0)
      << out;
  for (const char* kind : {"tokens", "pooled"}) {
    ASSERT_EQ(test::run_cli("embed --checkpoint " + (dir / "run").string() + " --data " + (dir / "img").string() +
                                " --transform none --" + kind + " --out " + (dir / (std::string(kind) + ".safetensors")).string(),
                            &out),
              0)
        << out;
  }
  std::string text;
  const int rc = test::run_shell(std::string("'") + IJEPA_PYTHON + "' '" + IJEPA_TEST_SOURCE_DIR +
                                     "/tools/check_export.py' --timm '" + (dir / "timm").string() + "' --hf '" +
                                     (dir / "hf").string() + "' --tokens '" + (dir / "tokens.safetensors").string() +
                                     "' --pooled '" + (dir / "pooled.safetensors").string() + "' --images '" +
                                     (dir / "img").string() + "' --eval-images '" + (dir / "eval_img").string() +
                                     "' --eval-pooled '" + (dir / "eval_pooled.safetensors").string() + "'",
                                 &text);
  if (rc == 3) {
    fs::remove_all(dir);
    GTEST_SKIP() << text;
  }
  ASSERT_EQ(rc, 0) << text;
  const nlohmann::json r = nlohmann::json::parse(text.substr(text.rfind("\n{") == std::string::npos ? text.find('{') : text.rfind("\n{") + 1));
  EXPECT_EQ(r["images"], 6);
  for (const char* k : {"timm_tokens_rel", "timm_pooled_rel", "hf_tokens_rel", "hf_pooled_rel"}) {
    EXPECT_LE(r[k].get<double>(), 1e-5) << k << ": " << r.dump();
  }
  // timm: within what PIL's 8-bit resize costs against the workbench's float one (5e-4 measured); the preprocessing
  // exported before (bicubic, crop_pct 1.0) was 6-13 % away. transformers: its centre crop floors the offset where
  // torchvision rounds, one pixel apart here (resized side 37 for 32: an odd margin), 1.8 % measured.
  EXPECT_LE(r["timm_eval_pooled_rel"].get<double>(), 2e-3) << r.dump();
  EXPECT_LE(r["hf_eval_pooled_rel"].get<double>(), 0.03) << r.dump();
  EXPECT_EQ(r["timm_data_config"]["interpolation"], "bilinear") << r.dump();
  for (const char* k : {"timm_strict_missing", "timm_strict_unexpected", "hf_missing", "hf_unexpected", "hf_mismatched", "warnings"}) {
    EXPECT_TRUE(r[k].empty()) << k << ": " << r[k].dump();
  }
  EXPECT_EQ(r["timm_num_features"], test::tiny_experiment()["components"]["encoder"]["embed_dim"]);
  fs::remove_all(dir);
}

TEST(Export, RefusesAnOccupiedOutOrAnUnknownFormatTouchingNothing) {
  const fs::path dir = test::temp_dir("export_bad");
  std::string out;
  ASSERT_EQ(train_tiny_run(dir, 1, &out), 0) << out;
  fs::create_directories(dir / "taken");
  test::write_text(dir / "taken" / "keep.txt", "mine");
  EXPECT_NE(test::run_cli("export " + (dir / "run").string() + " --format hf --out " + (dir / "taken").string(), &out), 0);
  EXPECT_EQ(test::count_lines(out), 1U) << out;
  EXPECT_NE(out.find((dir / "taken").string()), std::string::npos) << out;
  EXPECT_EQ(test::read_text(dir / "taken" / "keep.txt"), "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "taken"), fs::directory_iterator()), 1);
  EXPECT_EQ(test::run_cli("export " + (dir / "run").string() + " --format onnx --out " + (dir / "x").string(), &out), 2);
  EXPECT_NE(out.find("--format"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir / "x"));
  fs::remove_all(dir);
}
