#include <gtest/gtest.h>

#include <filesystem>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "ijepa/host/io/checkpoint.hpp"

using namespace ijepa::host;
namespace fs = std::filesystem;

TEST(Checkpoint, WriteReadLatestAndCleanup) {
  const fs::path dir = fs::temp_directory_path() / ("ijepa_ck_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  EXPECT_FALSE(read_latest(dir).has_value());
  for (int step : {5, 10}) {
    Checkpoint c;
    c.name = "step_" + std::to_string(step);
    c.step = step;
    c.epoch = step / 5;
    c.weights = {{"encoder.w", at::full({2}, step * 1.0)}};
    c.trainer = {{"step", at::full({}, step, at::kLong)}};
    write_checkpoint(dir, c);
  }
  auto c = read_latest(dir);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->step, 10);
  EXPECT_EQ(c->epoch, 2);
  EXPECT_TRUE(at::equal(c->weights.at("encoder.w"), at::full({2}, 10.0)));
  EXPECT_FALSE(fs::exists(dir / "step_5.safetensors")) << "older step files are removed";
  EXPECT_TRUE(fs::is_symlink(dir / "latest.safetensors"));
  EXPECT_EQ(read_safetensors((dir / "latest.safetensors").string()).at("encoder.w")[0].item<double>(), 10.0);
  fs::remove_all(dir);
}

TEST(Checkpoint, ModuleStateRoundTripAndMismatchErrors) {
  torch::nn::Linear a(3, 2), b(3, 2), c(4, 2);
  TensorMap s = module_state(*a, "m.");
  EXPECT_TRUE(s.count("m.weight") && s.count("m.bias"));
  load_module_state(*b, s, "m.", "file.safetensors");
  EXPECT_TRUE(at::equal(a->weight, b->weight));
  try {
    load_module_state(*c, s, "m.", "file.safetensors");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("m.weight"), std::string::npos) << e.what();
  }
  s.erase("m.bias");
  EXPECT_THROW(load_module_state(*b, s, "m.", "f"), std::runtime_error);
  s = module_state(*a, "m.");
  s["m.extra"] = at::ones({1});
  EXPECT_THROW(load_module_state(*b, s, "m.", "f"), std::runtime_error);
}
