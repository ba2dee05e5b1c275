// The built plugin ijepa_masker_multiblock.so, loaded through the host: registration, config checks, capability.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"

using ijepa::host::ConfigError;
using ijepa::host::Kind;
using ijepa::host::LoaderOptions;
using ijepa::host::PluginHost;
namespace sdk = ijepa::sdk;

namespace {

PluginHost& host() {
  static PluginHost* h = [] {
    auto* p = new PluginHost();  // never destroyed: plugins stay loaded for the process
    LoaderOptions opts;          // the built-in directory next to bin/
    opts.use_env = false;
    p->load_all(opts);
    return p;
  }();
  return *h;
}

sdk::BuildContext plugin_context(std::int64_t image_size, std::int64_t patch_size, std::uint64_t seed) {
  sdk::BuildContext ctx;
  ctx.seed = seed;
  ctx.image_size = image_size;
  ctx.patch_size = patch_size;
  ctx.grid = {image_size / patch_size, image_size / patch_size};
  return ctx;
}

}  // namespace

TEST(MultiBlockPlugin, RegistersWithEveryKeyDocumented) {
  const auto* e = host().registry().find(Kind::masker, "multiblock");
  ASSERT_NE(e, nullptr) << "ijepa_masker_multiblock.so did not load";
  EXPECT_EQ(e->origin.plugin_id, "org.ijepa.masker.multiblock");
  EXPECT_EQ(e->defaults["min_keep"], 10);
  EXPECT_EQ(e->defaults["num_pred_masks"], 4);
  EXPECT_EQ(e->defaults["variant"], "faithful");
  for (auto it = e->defaults.begin(); it != e->defaults.end(); ++it) EXPECT_TRUE(e->doc.contains(it.key())) << it.key();
}

TEST(MultiBlockPlugin, BuildsThroughTheRegistryAndSamples) {
  const auto masker =
      host().registry().make_masker({{"type", "multiblock"}, {"variant", "fixed"}}, plugin_context(224, 16, 1), "test");
  const auto ms = masker->sample(4, 0);
  ASSERT_EQ(ms.context.size(), 1u);
  ASSERT_EQ(ms.target.size(), 4u);
  EXPECT_EQ(ms.target[0].sizes(), (at::IntArrayRef{4, 36}));  // batch 0 on 14x14: 6x6 targets
  EXPECT_EQ(ms.context[0].scalar_type(), at::kLong);
  const auto* stats = static_cast<const sdk::MaskStats*>(masker->capability(sdk::kMaskStatsId));
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->fallbacks(), ms.fallbacks);
}

TEST(MultiBlockPlugin, InfeasibleMinKeepIsAConfigError) {
  try {
    (void)host().registry().make_masker({{"type", "multiblock"}}, plugin_context(32, 4, 0), "components.masker");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("min_keep"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3x3=9"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8x8"), std::string::npos) << msg;
  }
}

TEST(MultiBlockPlugin, BadValueNamesTheKey) {
  try {
    (void)host().registry().make_masker({{"type", "multiblock"}, {"variant", "best"}}, plugin_context(224, 14, 0), "m");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'variant'"), std::string::npos) << e.what();
  }
}
