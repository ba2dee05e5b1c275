// The built plugin ijepa_loss_pixel.so through the host: registration, config errors, the trainer's width check,
// a tiny model fitting pixel targets, and `ijepa train` end to end on the synthetic source.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/data/loader.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "ijepa/host/run/training_data.hpp"

using ijepa::host::ConfigError;
using ijepa::host::Kind;
namespace sdk = ijepa::sdk;
namespace fs = std::filesystem;

namespace {

ijepa::host::PluginHost& host() { return ijepa::test::builtin_plugins(); }

// The tiny synthetic experiment (32 px, 4 px patches) with the pixel loss; the predictor projects to 4*4*3 = 48.
nlohmann::json pixel_experiment() {
  nlohmann::json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["loss"] = {{"type", "pixel"}};
  cfg["components"]["predictor"]["output_dim"] = 48;
  return cfg;
}

nlohmann::json resolve(const nlohmann::json& cfg) {
  const fs::path dir = ijepa::test::temp_dir("pixel_resolve");
  ijepa::test::write_text(dir / "e.json", cfg.dump());
  auto r = ijepa::host::resolve_experiment(ijepa::host::load_layered(dir / "e.json"), {}, host().registry(), "e.json");
  fs::remove_all(dir);
  return r;
}

using ijepa::test::run_cli;

}  // namespace

TEST(PixelLossPlugin, RegistersWithEveryKeyDocumented) {
  const auto* e = host().registry().find(Kind::loss, "pixel");
  ASSERT_NE(e, nullptr) << "ijepa_loss_pixel.so did not load";
  EXPECT_EQ(e->origin.plugin_id, "org.ijepa.loss.pixel");
  EXPECT_EQ(e->defaults["distance"], "l2");
  EXPECT_EQ(e->defaults["norm_pix"], true);
  EXPECT_EQ(e->defaults.size(), e->doc.size());
  for (auto it = e->defaults.begin(); it != e->defaults.end(); ++it) EXPECT_TRUE(e->doc.contains(it.key())) << it.key();
}

TEST(PixelLossPlugin, BuildsThroughTheRegistryAndChecksItsConfig) {
  sdk::BuildContext ctx;
  ctx.patch_size = 4;
  ctx.in_chans = 3;
  const auto loss = host().registry().make_loss({{"type", "pixel"}, {"distance", "smooth_l1"}}, ctx, "components.loss");
  EXPECT_FALSE(loss->needs_target_encoder());
  EXPECT_EQ(loss->prediction_dim(ctx), 48);
  for (const auto& [cfg, needle] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"type", "pixel"}, {"distance", "cosine"}}, "'distance'"},
           {{{"type", "pixel"}, {"eps", 0.0}}, "'eps'"},
           {{{"type", "pixel"}, {"norm_pix", 1}}, "norm_pix"},
           {{{"type", "pixel"}, {"normalize_target", true}}, "components.loss.normalize_target"}}) {
    try {
      (void)host().registry().make_loss(cfg, ctx, "components.loss");
      ADD_FAILURE() << cfg.dump() << " accepted";
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

TEST(PixelLossPlugin, TrainerRequiresThePixelWidthFromThePredictor) {
  nlohmann::json cfg = pixel_experiment();
  cfg["components"]["predictor"]["output_dim"] = 0;  // the encoder width (32), not 48
  try {
    ijepa::host::JepaModel model(resolve(cfg), host().registry());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("output_dim"), std::string::npos) << msg;
    EXPECT_NE(msg.find("48"), std::string::npos) << msg;
  }
}

TEST(PixelLossPlugin, TinyModelFitsPixelTargetsOfAFixedBatch) {
  ijepa::host::JepaModel model(resolve(pixel_experiment()), host().registry());
  ijepa::host::Schedules s;
  s.start_lr = s.ref_lr = s.final_lr = 3e-3;
  s.ref_wd = s.final_wd = 0.0;
  s.warmup_steps = 0;
  s.total_steps = 1000;
  model.set_schedules(s);
  ijepa::host::DataLoaderOptions lo;
  lo.batch_size = 8;
  lo.image_size = 32;
  lo.workers = 1;
  ijepa::host::Loader loader(ijepa::host::open_synthetic(64, 32, 4, 1), ijepa::host::make_rank_masker(model.config(), host().registry(), 0).ptr, lo, 0);
  const ijepa::host::Batch b = loader.make_batch(0);
  const double first = model.eval_loss(b.images, b.masks);
  EXPECT_NEAR(first, 1.0, 0.3) << "normalised patches have unit variance and the initial prediction is ~0";
  for (int i = 0; i < 100; ++i) model.train_step(b, 0);
  const double last = model.eval_loss(b.images, b.masks);
  EXPECT_LT(last, 0.5 * first) << first << " -> " << last;
}

TEST(PixelLossPlugin, IjepaTrainRunsAndTheLossDecreases) {
  // `ijepa train` on 64 synthetic images, 8 steps per epoch: the trainer skips the target-encoder pass (undefined
  // target_tokens) and the mean loss of the last quarter of the log is well below that of the first quarter.
  // Raw pixels are learnt within 32 steps; normalised patches (the default) need ~100 with this tiny model.
  struct Case {
    bool norm_pix;
    int epochs;
  };
  for (const Case c : {Case{false, 4}, Case{true, 12}}) {
    nlohmann::json cfg = pixel_experiment();
    cfg["components"]["loss"]["norm_pix"] = c.norm_pix;
    cfg["train"]["epochs"] = c.epochs;
    cfg["train"]["checkpoint_every"] = 0;
    cfg["train"]["log_every"] = 2;
    cfg["train"]["lr"] = 2e-3;
    const fs::path dir = ijepa::test::temp_dir(std::string("pixel_train_") + (c.norm_pix ? "norm" : "raw"));
    ijepa::test::write_text(dir / "e.json", cfg.dump());
    std::string out;
    ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "run").string() + " --quiet", &out), 0)
        << out;
    EXPECT_EQ(ijepa::host::load_json_file(dir / "run" / "status.json")["state"], "completed");
    const auto resolved = ijepa::host::load_json_file(dir / "run" / "config.resolved.json");
    EXPECT_EQ(resolved["components"]["loss"]["type"], "pixel");
    std::vector<double> losses;
    std::ifstream in(dir / "run" / "metrics.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      const auto rec = nlohmann::json::parse(line);
      if (rec.contains("loss") && rec.contains("step")) losses.push_back(rec["loss"].get<double>());
    }
    ASSERT_EQ(losses.size(), static_cast<std::size_t>(c.epochs * 4)) << out;
    const std::size_t q = losses.size() / 4;
    double head = 0, tail = 0;
    for (std::size_t i = 0; i < q; ++i) head += losses[i] / static_cast<double>(q);
    for (std::size_t i = losses.size() - q; i < losses.size(); ++i) tail += losses[i] / static_cast<double>(q);
    EXPECT_LT(tail, 0.9 * head) << "norm_pix " << c.norm_pix << ": the loss did not decrease over " << c.epochs * 8
                                << " steps: " << head << " -> " << tail;
    fs::remove_all(dir);
  }
}
