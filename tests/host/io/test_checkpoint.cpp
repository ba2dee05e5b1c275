#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

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

// ---- hostile and unlucky checkpoints (hostile-input issue, items 3, 9, 13, 15) ------------------------------

namespace {

Checkpoint small_checkpoint(std::int64_t step) {
  Checkpoint c;
  char name[32];
  std::snprintf(name, sizeof(name), "step_%08lld", static_cast<long long>(step));
  c.name = name;
  c.step = step;
  c.weights = {{"encoder.w", at::arange(64, at::kFloat).reshape({8, 8})}, {"encoder.b", at::ones({8})}};
  c.trainer = {{"opt.encoder.w.exp_avg", at::zeros({8, 8})}, {"step", at::full({}, step, at::kLong)}};
  return c;
}

fs::path fresh_dir(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("ijepa_ck_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

std::string error_of(const fs::path& dir) {
  try {
    (void)read_latest(dir);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// Flips one bit of the tensor data (the last bytes of the file: the data section ends there).
void flip_last_byte(const fs::path& f) {
  std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(-1, std::ios::end);
  char c = 0;
  io.get(c);
  io.seekp(-1, std::ios::end);
  io.put(static_cast<char>(c ^ 0x40));
}

long vm_hwm_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

TEST(Checkpoint, AFlippedBitInTensorDataIsCaughtAndNamed) {
  const fs::path dir = fresh_dir("flip");
  write_checkpoint(dir, small_checkpoint(4));
  ASSERT_TRUE(read_latest(dir).has_value());
  flip_last_byte(dir / "step_00000004.safetensors");
  const std::string err = error_of(dir);
  EXPECT_NE(err.find("step_00000004.safetensors: tensor 'encoder.w' fails its checksum"), std::string::npos) << err;
  fs::remove_all(dir);
}

TEST(Checkpoint, NonFiniteWeightsAreRefused) {
  const fs::path dir = fresh_dir("nan");
  Checkpoint c = small_checkpoint(2);
  c.weights["encoder.b"][3] = std::nanf("");
  write_checkpoint(dir, c);
  EXPECT_NE(error_of(dir).find("tensor 'encoder.b' has NaN or infinite values"), std::string::npos) << error_of(dir);
  fs::remove_all(dir);
}

TEST(Checkpoint, APickleIsNamedAsOne) {
  const fs::path dir = fresh_dir("pickle");
  fs::create_directories(dir);
  std::ofstream(dir / "x.safetensors", std::ios::binary) << std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10)
                                                          << std::string(100, 'z');
  try {
    (void)read_safetensors((dir / "x.safetensors").string());
    FAIL();
  } catch (const SafetensorsError& e) {
    EXPECT_NE(std::string(e.what()).find("a PyTorch pickle / torch.save file, not safetensors"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

TEST(Checkpoint, ReadingHoldsAboutOneFileInMemory) {
  const fs::path dir = fresh_dir("mem");
  fs::create_directories(dir);
  const std::int64_t n = 48 << 20;  // 48 Mi floats: a 192 MiB file
  {
    TensorMap t{{"big", at::ones({n}, at::kFloat)}};
    write_safetensors((dir / "big.safetensors").string(), t);
  }
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  const long before = vm_hwm_kib();
  ASSERT_GT(before, 0);
  double sum = 0.0;
  {
    const TensorMap t = read_safetensors((dir / "big.safetensors").string());
    sum = t.at("big").sum().item<double>();  // every page touched
  }
  const long grown_mib = (vm_hwm_kib() - before) / 1024;
  EXPECT_DOUBLE_EQ(sum, static_cast<double>(n));
  EXPECT_LE(grown_mib, 192 * 11 / 10) << "peak RSS grew by " << grown_mib << " MiB reading a 192 MiB file";
  fs::remove_all(dir);
}

TEST(Checkpoint, CleanRemovesWhatAKilledWriterLeft) {
  const fs::path dir = fresh_dir("clean");
  write_checkpoint(dir, small_checkpoint(6));
  std::ofstream(dir / ".step_00000008.safetensors.tmp.12345") << "partial";
  std::ofstream(dir / ".LATEST.tmp.12345") << "step_00000008";
  std::ofstream(dir / "step_00000008.trainer.safetensors") << "renamed, then the disk was full";
  EXPECT_EQ(clean_checkpoint_dir(dir), 3u);
  EXPECT_TRUE(fs::exists(dir / "step_00000006.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "step_00000006.trainer.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "step_00000008.trainer.safetensors"));
  EXPECT_TRUE(read_latest(dir).has_value());
  fs::remove_all(dir);
}
