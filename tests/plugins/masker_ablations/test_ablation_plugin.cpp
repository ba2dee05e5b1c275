// The built plugin ijepa_masker_ablations.so, loaded through the host: registration of random / block /
// rasterized, config checks with one-line errors naming the key, and one trainer step with each masker.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <ATen/ATen.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/data/loader.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "ijepa/host/run/training_data.hpp"

using ijepa::host::ConfigError;
using ijepa::host::Kind;
namespace sdk = ijepa::sdk;
namespace fs = std::filesystem;

namespace {

ijepa::host::PluginHost& host() { return ijepa::test::builtin_plugins(); }

sdk::BuildContext plugin_context(std::int64_t image_size, std::int64_t patch_size, std::uint64_t seed) {
  sdk::BuildContext ctx;
  ctx.seed = seed;
  ctx.image_size = image_size;
  ctx.patch_size = patch_size;
  ctx.grid = {image_size / patch_size, image_size / patch_size};
  return ctx;
}

std::string config_error(const nlohmann::json& cfg, const sdk::BuildContext& ctx) {
  try {
    (void)host().registry().make_masker(cfg, ctx, "components.masker");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(AblationMaskerPlugin, RegistersThreeTypesWithEveryKeyDocumented) {
  for (const char* type : {"random", "block", "rasterized"}) {
    const auto* e = host().registry().find(Kind::masker, type);
    ASSERT_NE(e, nullptr) << "ijepa_masker_ablations.so did not register " << type;
    EXPECT_EQ(e->origin.plugin_id, "org.ijepa.masker.ablations");
    EXPECT_EQ(e->defaults.size(), e->doc.size()) << type;
    for (auto it = e->defaults.begin(); it != e->defaults.end(); ++it)
      EXPECT_TRUE(e->doc.contains(it.key())) << it.key();
  }
  EXPECT_EQ(host().registry().find(Kind::masker, "random")->defaults["ratio"], 0.6);
  EXPECT_EQ(host().registry().find(Kind::masker, "block")->defaults["scale"], 0.6);
  EXPECT_EQ(host().registry().find(Kind::masker, "rasterized")->defaults["context_quadrant"], -1);
}

TEST(AblationMaskerPlugin, BuildsEachTypeThroughTheRegistryAndSamples) {
  struct Case {
    const char* type;
    std::size_t n_tgt;
    std::int64_t k_tgt, k_ctx;  // on the 8x8 grid of 32 px / 4 px
  };
  // block: batch 0 draws a 7x6 block on the 8x8 grid
  const Case cases[] = {{"random", 1, 38, 26}, {"block", 1, 42, 22}, {"rasterized", 3, 16, 16}};
  for (const auto& c : cases) {
    const auto masker = host().registry().make_masker({{"type", c.type}}, plugin_context(32, 4, 1), "components.masker");
    const auto ms = masker.call([](sdk::Masker& m) { return m.sample(4, 0); });
    ASSERT_EQ(ms.context.size(), 1u) << c.type;
    ASSERT_EQ(ms.target.size(), c.n_tgt) << c.type;
    EXPECT_EQ(ms.target[0].sizes(), (at::IntArrayRef{4, c.k_tgt})) << c.type;
    EXPECT_EQ(ms.context[0].sizes(), (at::IntArrayRef{4, c.k_ctx})) << c.type;
    EXPECT_EQ(masker->capability(sdk::kMaskStatsId), nullptr) << c.type;
  }
}

TEST(AblationMaskerPlugin, BadConfigsAreOneLineErrorsNamingTheKey) {
  const auto ctx = plugin_context(32, 4, 0);
  struct Case {
    nlohmann::json cfg;
    const char* needle;
  };
  const Case cases[] = {
      {{{"type", "random"}, {"ratio", 1.5}}, "'ratio'"},
      {{{"type", "random"}, {"min_keep", 30}}, "'min_keep'"},
      {{{"type", "random"}, {"scale", 0.5}}, "components.masker.scale"},  // unknown key (block's)
      {{{"type", "block"}, {"aspect_ratio", {1.5, 0.5}}}, "'aspect_ratio'"},
      {{{"type", "block"}, {"min_keep", 40}}, "'min_keep'"},
      {{{"type", "block"}, {"min_keep", 1.5}}, "min_keep"},  // an integer key
      {{{"type", "rasterized"}, {"context_quadrant", 7}}, "'context_quadrant'"},
      {{{"type", "rasterized"}, {"min_keep", 16}}, "'min_keep'"},
  };
  for (const auto& c : cases) {
    const std::string msg = config_error(c.cfg, ctx);
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.cfg.dump() << " -> " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(AblationMaskerPlugin, TrainerStepsWithEachMasker) {
  // The tiny synthetic experiment (8x8 grid) with each masker: loader + encoder + predictor + loss consume the masks.
  for (const char* type : {"random", "block", "rasterized"}) {
    nlohmann::json cfg = ijepa::test::tiny_experiment();
    cfg["components"]["masker"] = {{"type", type}};
    const fs::path dir = ijepa::test::temp_dir(std::string("abl_") + type);
    ijepa::test::write_text(dir / "e.json", cfg.dump());
    const nlohmann::json resolved =
        ijepa::host::resolve_experiment(ijepa::host::load_layered(dir / "e.json"), {}, host().registry(), "e.json");
    fs::remove_all(dir);
    ijepa::host::JepaModel model(resolved, host().registry());
    ijepa::host::DataLoaderOptions lo;
    lo.batch_size = 8;
    lo.image_size = 32;
    lo.workers = 1;
    ijepa::host::Loader loader(ijepa::host::open_synthetic(64, 32, 4, 1), ijepa::host::make_rank_masker(resolved, host().registry(), 0).ptr, lo, 0);
    for (std::int64_t step = 0; step < 2; ++step) {
      const auto r = model.train_step(loader.make_batch(step), step);
      EXPECT_TRUE(std::isfinite(r.loss_value())) << type;
      EXPECT_GT(r.loss_value(), 0.0) << type;
      EXPECT_GT(r.k_enc, 4) << type;
      EXPECT_GT(r.k_pred, 4) << type;
    }
  }
}
