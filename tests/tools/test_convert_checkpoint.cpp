// tools/convert_checkpoint.py end to end. tests/tools/make_convert_fixture.py (run by CMake into the build tree)
// writes checkpoints exactly as the official save_checkpoint does, from the transcribed official model, with image
// folders and reference features. Here the converter turns them into safetensors, which must (a) carry the
// metadata and a config that builds the `vit` / `vit_predictor` plugins with the converted names and shapes,
// (b) reproduce the reference tokens, pooled features and predictions through the host (relative error <= 1e-5 in
// fp32), (c) do the same through `ijepa embed`. The converter's refusals are one line on stderr, exit status 2,
// and leave no output file.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/build_config.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/eval/features.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/host/io/sha256.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"

namespace fs = std::filesystem;
using namespace ijepa::host;
namespace sdk = ijepa::sdk;

namespace {

constexpr double kTol = 1e-5;

const fs::path kFixture = IJEPA_CONVERT_FIXTURE_DIR;
const fs::path kConverter = fs::path(IJEPA_SOURCE_DIR) / "tools" / "convert_checkpoint.py";

struct Proc {
  int rc = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::size_t lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// run(cmd, errfile): stdout captured, stderr through a file; rc is the exit status (-1 when killed).
Proc run(const std::string& cmd, const fs::path& errfile) {
  Proc r;
  FILE* p = ::popen((cmd + " 2>" + q(errfile)).c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = slurp(errfile);
  return r;
}

double rel_err(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  const at::Tensor bd = b.to(at::kDouble);
  return (a.to(at::kDouble) - bd).norm().item<double>() / bd.norm().item<double>();
}

PluginHost& plugins() {
  static PluginHost* h = [] {
    auto* ph = new PluginHost();  // never destroyed: plugins stay loaded for the process
    ph->load_all(LoaderOptions{});
    return ph;
  }();
  return *h;
}

struct Case {
  std::string name;
  std::int64_t image_size, patch_size, embed_dim, depth, heads, pred_dim, pred_depth, epoch;
  double mlp_ratio;
  std::string extra_args;  // for the converter
};
// Mirrors CASES in make_convert_fixture.py. "small": width 64 is no preset width, so --num-heads is required, and
// its state dicts carry DDP's "module." prefix; "preset": width 192 takes vit_tiny's 3 heads from the converter's
// table, and (world_size 1, as the official code saves it) has no prefix.
const Case kSmall{"small", 32, 8, 64, 2, 2, 32, 2, 7, 3.0, "--num-heads 2"};
const Case kPreset{"preset", 16, 4, 192, 1, 3, 48, 1, 3, 4.0, ""};

class ConvertCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(IJEPA_PYTHON_EXE).empty() || !fs::exists(IJEPA_PYTHON_EXE))
      GTEST_SKIP() << "no Python environment (IJEPA_PYTHON)";
    if (!IJEPA_CONVERT_FIXTURE_OK)
      GTEST_SKIP() << "IJEPA_PYTHON (" << IJEPA_PYTHON_EXE << ") lacked torch, numpy or safetensors at configure time";
    if (!fs::exists(kFixture / "STAMP"))
      GTEST_SKIP() << "no converter fixture at " << kFixture << " (target convert_checkpoint_fixture not built)";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("ijepa_conv_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  Proc convert(const fs::path& in, const fs::path& out, const std::string& extra) {
    return run(q(IJEPA_PYTHON_EXE) + " " + q(kConverter) + " " + q(in) + " --out " + q(out) + " " + extra,
               dir_ / "convert.err");
  }
  Proc cli(const std::string& args) { return run(q(IJEPA_CLI) + " " + args, dir_ / "cli.err"); }

  // A refusal: exit 2, one line on stderr naming `what`, nothing on stdout, and no file left in the output folder.
  void expect_refusal(const fs::path& in, const std::string& extra, const std::string& what) {
    const fs::path outdir = dir_ / "out";
    fs::create_directories(outdir);
    const Proc r = convert(in, outdir / "conv.safetensors", extra);
    EXPECT_EQ(r.rc, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("convert_checkpoint: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << "expected '" << what << "' in: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(fs::is_empty(outdir)) << "a failed conversion left files in " << outdir;
    fs::remove_all(outdir);
  }

  // Converts the case's checkpoint into dir_/conv.safetensors (asserting success).
  fs::path convert_case(const Case& c) {
    const fs::path out = dir_ / "conv.safetensors";
    const Proc r = convert(kFixture / c.name / "x.pth.tar", out, c.extra_args);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_TRUE(fs::exists(out));
    return out;
  }

  void check_case(const Case& c);
  void check_embed(const Case& c);

  fs::path dir_;
};

void ConvertCheckpoint::check_case(const Case& c) {
  const fs::path out = convert_case(c);
  ASSERT_FALSE(HasFailure());
  const fs::path src = kFixture / c.name / "x.pth.tar";
  StringMap ref_meta;
  const TensorMap ref = read_safetensors((kFixture / c.name / "ref.safetensors").string(), &ref_meta);

  // Metadata and names.
  StringMap meta;
  const TensorMap w = read_safetensors(out.string(), &meta);
  EXPECT_EQ(meta["format"], "ijepa-official-converted");
  EXPECT_EQ(meta["source"], "x.pth.tar");
  EXPECT_EQ(meta["source_sha256"], sha256_hex_file(src.string()));
  EXPECT_EQ(meta["epoch"], std::to_string(c.epoch));
  std::map<std::string, int> per_group;
  for (const auto& [k, t] : w) {
    const std::string group = k.substr(0, k.find('.'));
    ++per_group[group];
    EXPECT_TRUE(group == "encoder" || group == "predictor" || group == "target_encoder") << k;
    EXPECT_EQ(k.find("module."), std::string::npos) << k;
    EXPECT_EQ(t.scalar_type(), at::kFloat) << k;
  }
  EXPECT_EQ(per_group["encoder"], per_group["target_encoder"]);
  EXPECT_EQ(per_group["encoder"], 5 + 12 * c.depth);
  EXPECT_EQ(per_group["predictor"], 8 + 12 * c.pred_depth);

  // The config: the plugins' own key names, the shapes' values, heads from the table or --num-heads.
  const nlohmann::json cfg = nlohmann::json::parse(meta.at("config"));
  const auto& e = cfg.at("components").at("encoder");
  EXPECT_EQ(e.at("type"), "vit");
  EXPECT_EQ(e.at("img_size"), c.image_size);
  EXPECT_EQ(e.at("patch_size"), c.patch_size);
  EXPECT_EQ(e.at("in_chans"), 3);
  EXPECT_EQ(e.at("embed_dim"), c.embed_dim);
  EXPECT_EQ(e.at("depth"), c.depth);
  EXPECT_EQ(e.at("num_heads"), c.heads);
  EXPECT_EQ(e.at("mlp_ratio").get<double>(), c.mlp_ratio);
  const auto& p = cfg.at("components").at("predictor");
  EXPECT_EQ(p.at("type"), "vit_predictor");
  EXPECT_EQ(p.at("embed_dim"), c.pred_dim);
  EXPECT_EQ(p.at("depth"), c.pred_depth);
  EXPECT_EQ(p.at("num_heads"), c.heads);
  EXPECT_EQ(cfg.at("data").at("image_size"), c.image_size);

  ASSERT_TRUE(plugins().registry().find(Kind::encoder, "vit")) << "the vit plugin is not built";
  const at::Tensor images = ref.at("input.images");
  at::NoGradGuard no_grad;
  for (const std::string which : {"target", "context"}) {
    SCOPED_TRACE(which);
    // The loader of `ijepa eval` / `embed`: the recorded config builds the plugin, every weight must fit exactly.
    LoadedEncoder le = load_encoder(out, which, plugins().registry(), {}, "");
    EXPECT_EQ(le.encoder->num_heads(), c.heads);
    const at::Tensor tokens = le.encoder.call([&](sdk::Encoder& enc) { return enc.encode(images, nullptr); });
    EXPECT_LE(rel_err(tokens, ref.at("tokens." + which)), kTol);

    // The data path of `ijepa embed --transform none`: PNG decode, the folder's order, normalisation.
    const auto data = open_image_folder((kFixture / c.name / "imgs").string(), "");
    ExtractOptions o;
    o.image_size = c.image_size;
    o.batch_size = 4;
    o.resize_crop = false;
    for (const FeatureKind kind : {FeatureKind::last, FeatureKind::tokens}) {
      o.kind = kind;
      const Features f = extract_features(le.encoder, *data, o, at::kCPU);
      const std::string key = (kind == FeatureKind::last ? "pooled." : "tokens.") + which;
      EXPECT_LE(rel_err(f.features, ref.at(key)), kTol) << key;
      EXPECT_TRUE(at::equal(f.labels, ref.at("labels"))) << f.labels;
    }

    if (which == "context") {
      // The predictor group: its config builds vit_predictor with the converted names and shapes.
      sdk::BuildContext ctx = experiment_context(le.resolved);
      ctx.encoder_dim = le.encoder->embed_dim();
      ctx.encoder_heads = le.encoder->num_heads();
      ctx.encoder_depth = le.encoder->depth();
      const auto pred =
          plugins().registry().make_predictor(le.resolved.at("components").at("predictor"), ctx, "components.predictor");
      load_module_state(*pred, w, "predictor.", out.string());
      const std::vector<at::Tensor> menc{ref.at("masks.enc.0")};
      const std::vector<at::Tensor> mpred{ref.at("masks.pred.0"), ref.at("masks.pred.1")};
      const at::Tensor z = le.encoder.call([&](sdk::Encoder& enc) { return enc.encode(images, &menc); });
      const at::Tensor y = pred.call([&](sdk::Predictor& pr) { return pr.predict(z, menc, mpred); });
      EXPECT_LE(rel_err(y, ref.at("expected.pred")), kTol);
    }
  }
}

void ConvertCheckpoint::check_embed(const Case& c) {
  const fs::path conv = convert_case(c);
  ASSERT_FALSE(HasFailure());
  const TensorMap ref = read_safetensors((kFixture / c.name / "ref.safetensors").string());
  const fs::path imgs = kFixture / c.name / "imgs";
  struct Run {
    std::string flags, ref_key;
  };
  for (const Run& r : {Run{"--pooled --encoder target", "pooled.target"}, Run{"--tokens --encoder target", "tokens.target"},
                       Run{"--pooled --encoder context", "pooled.context"}}) {
    SCOPED_TRACE(r.flags);
    const fs::path f = dir_ / "f.safetensors";
    fs::remove(f);
    const Proc p = cli("embed --checkpoint " + q(conv) + " --data " + q(imgs) + " --split train --transform none " +
                       r.flags + " --out " + q(f));
    ASSERT_EQ(p.rc, 0) << p.out << p.err;
    const TensorMap got = read_safetensors(f.string());
    ASSERT_TRUE(got.count("features")) << f;
    ASSERT_TRUE(got.count("labels")) << f;
    EXPECT_EQ(got.at("features").scalar_type(), at::kFloat);
    EXPECT_EQ(got.at("labels").scalar_type(), at::kLong);
    EXPECT_LE(rel_err(got.at("features"), ref.at(r.ref_key)), kTol);
    EXPECT_TRUE(at::equal(got.at("labels"), ref.at("labels"))) << got.at("labels");
    if (got.count("indices")) {
      EXPECT_TRUE(at::equal(got.at("indices"), at::arange(ref.at("labels").size(0), at::kLong)));
    }
  }
}

}  // namespace

TEST_F(ConvertCheckpoint, WidthOutsideThePresetTableWithNumHeadsMatchesTheReference) { check_case(kSmall); }

TEST_F(ConvertCheckpoint, PresetWidthTakesHeadsFromTheTableAndMatchesTheReference) { check_case(kPreset); }

TEST_F(ConvertCheckpoint, EmbedCliMatchesTheReference) { check_embed(kSmall); }

TEST_F(ConvertCheckpoint, EmbedCliMatchesTheReferenceAtAPresetWidth) { check_embed(kPreset); }

TEST_F(ConvertCheckpoint, GroupsSelectsWhatIsWritten) {
  const fs::path out = dir_ / "enc.safetensors";
  const Proc r = convert(kFixture / "preset" / "x.pth.tar", out, "--groups target_encoder");
  ASSERT_EQ(r.rc, 0) << r.err;
  StringMap meta;
  const TensorMap w = read_safetensors(out.string(), &meta);
  for (const auto& [k, t] : w) EXPECT_EQ(k.rfind("target_encoder.", 0), 0u) << k;
  EXPECT_EQ(w.size(), 5u + 12u);
  const nlohmann::json cfg = nlohmann::json::parse(meta.at("config"));
  EXPECT_TRUE(cfg.at("components").contains("encoder"));
  EXPECT_FALSE(cfg.at("components").contains("predictor")) << cfg;
}

TEST_F(ConvertCheckpoint, WidthOutsideThePresetTableNeedsNumHeads) {
  expect_refusal(kFixture / "small" / "x.pth.tar", "", "pass --num-heads");
  expect_refusal(kFixture / "small" / "x.pth.tar", "--num-heads 3", "--num-heads 3 does not divide");
}

TEST_F(ConvertCheckpoint, RefusesWhatIsNotACheckpoint) {
  expect_refusal(dir_ / "missing.pth.tar", "", "missing.pth.tar: not a file");
  expect_refusal(dir_, "", "not a file");
  expect_refusal(kFixture / "errors" / "garbage.pth.tar", "", "not a torch checkpoint");
  expect_refusal(kFixture / "errors" / "list.pth.tar", "", "the top level is a list");
  expect_refusal(kFixture / "errors" / "state_dict.pth.tar", "", "keys found: module.pos_embed");
}

TEST_F(ConvertCheckpoint, RefusesMissingGroupsNamingTheKeysFound) {
  expect_refusal(kFixture / "errors" / "no_predictor.pth.tar", "--groups encoder,predictor --num-heads 2",
                 "group 'predictor' is not in the checkpoint (keys found: encoder, target_encoder, epoch)");
  expect_refusal(kFixture / "small" / "x.pth.tar", "--groups encoder,decoder --num-heads 2", "unknown group 'decoder'");
}

TEST_F(ConvertCheckpoint, RefusesNonTensorEntriesAndInconsistentEncoders) {
  expect_refusal(kFixture / "errors" / "non_tensor.pth.tar", "--num-heads 2",
                 "encoder.module.blocks.0.attn.qkv.weight is a list, not a tensor");
  expect_refusal(kFixture / "errors" / "mismatch.pth.tar", "--num-heads 2",
                 "encoder and target_encoder differ: 'norm.weight' has shape [64] vs [8]");
}

TEST_F(ConvertCheckpoint, ArbitraryPicklesNeedTrustPickle) {
  const fs::path in = kFixture / "errors" / "pickled.pth.tar";
  expect_refusal(in, "--num-heads 2", "--trust-pickle");
  const Proc r = convert(in, dir_ / "ok.safetensors", "--num-heads 2 --trust-pickle");
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(read_safetensors((dir_ / "ok.safetensors").string()).size(), 2u * (5u + 24u) + (8u + 24u));
}
