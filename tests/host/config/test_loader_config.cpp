// loader_options (host/include/ijepa/host/config/loader_config.hpp): the one config->loader mapping, and
// Loader::steps_for, the one steps-per-epoch formula.
#include <gtest/gtest.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/loader_config.hpp"

using namespace ijepa::host;

TEST(LoaderConfig, MapsTheExperimentsKeys) {
  nlohmann::json cfg = experiment_defaults();
  cfg["seed"] = 11;
  cfg["train"]["batch_size"] = 16;
  cfg["data"]["image_size"] = 48;
  cfg["data"]["crop_scale"] = {0.5, 0.9};
  cfg["data"]["hflip"] = true;
  cfg["data"]["workers"] = 0;
  cfg["data"]["limit"] = 100;
  const DataLoaderOptions lo = loader_options(cfg, 1, 4, true);
  EXPECT_EQ(lo.batch_size, 16);
  EXPECT_EQ(lo.image_size, 48);
  EXPECT_DOUBLE_EQ(lo.crop_scale_lo, 0.5);
  EXPECT_DOUBLE_EQ(lo.crop_scale_hi, 0.9);
  EXPECT_TRUE(lo.hflip);
  EXPECT_EQ(lo.seed, 11u);
  EXPECT_EQ(lo.workers, 1) << "at least one worker";
  EXPECT_EQ(lo.limit, 100);
  EXPECT_TRUE(lo.pin_memory);
  EXPECT_EQ(lo.rank, 1);
  EXPECT_EQ(lo.world, 4);
}

TEST(LoaderConfig, CropScaleErrorsNameTheKey) {
  for (const nlohmann::json& bad : {nlohmann::json{0.0, 1.0}, nlohmann::json{0.8, 0.5}, nlohmann::json{0.5, 1.5},
                                    nlohmann::json{0.5}, nlohmann::json("x")}) {
    nlohmann::json cfg = experiment_defaults();
    cfg["data"]["crop_scale"] = bad;
    try {
      (void)loader_options(cfg, 0, 1, false);
      FAIL() << bad.dump();
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("data.crop_scale: ", 0), 0u) << e.what();
    }
  }
}

TEST(LoaderConfig, StepsPerEpochShardThenBatch) {
  DataLoaderOptions lo;
  lo.batch_size = 8;
  lo.world = 2;
  EXPECT_EQ(Loader::steps_for(100, lo), 6);  // 50 per rank -> 6 full batches
  lo.drop_last = false;
  EXPECT_EQ(Loader::steps_for(100, lo), 7);  // 50 per rank -> 7 batches, the last smaller
  lo.drop_last = true;
  lo.limit = 40;
  EXPECT_EQ(Loader::steps_for(100, lo), 2);  // 20 per rank
  EXPECT_EQ(Loader::steps_for(10, lo), 0);
}

// Hostile-input issue, item 6: a negative or absurd worker count is a one-line error naming the key.
TEST(LoaderConfig, WorkersOutOfRangeNameTheKey) {
  for (const int bad : {-1, 100000}) {
    nlohmann::json cfg = experiment_defaults();
    cfg["data"]["workers"] = bad;
    try {
      (void)loader_options(cfg, 0, 1, false);
      FAIL() << bad;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("data.workers: expected 0..256", 0), 0u) << e.what();
    }
  }
}
