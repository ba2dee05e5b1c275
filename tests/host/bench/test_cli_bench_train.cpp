// `ijepa bench train` through the built binary: output, the Python baseline, and one-line errors.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "ijepa/host/build_config.hpp"
#include "host/run/test_util.hpp"

namespace {

using ijepa::test::run_cli;
using ijepa::test::run_shell;
std::size_t lines(const std::string& s) { return ijepa::test::count_lines(s); }

const char* kTiny = "bench train --model vit_tiny --patch 8 --image-size 32 --batch 4 --steps 2 --warmup 1 --device cpu";

}  // namespace

TEST(BenchTrainCli, CpuRunPrintsImagesPerSecond) {
  std::string out;
  ASSERT_EQ(run_cli(kTiny, &out), 0) << out;
  EXPECT_NE(out.find("images/s"), std::string::npos) << out;
  EXPECT_NE(out.find("MFU"), std::string::npos) << out;
  EXPECT_NE(out.find("peak RSS"), std::string::npos) << out;
  EXPECT_NE(out.find("fp32"), std::string::npos) << out;            // the CPU matmul rate is fp32, and says so
  EXPECT_NE(out.find("width 192 (default)"), std::string::npos) << out;  // predictor defaults are printed
  EXPECT_NE(out.find("attention      auto (explicit softmax on the CPU)"), std::string::npos) << out;
}

// The A/B switches reach the step: the attention kernel the ViT plugins use, a loss read after every step.
TEST(BenchTrainCli, AttentionAndSyncSwitchesAreApplied) {
  std::string out;
  ASSERT_EQ(run_cli(std::string(kTiny) + " --attention sdpa --sync-each-step", &out), 0) << out;
  EXPECT_NE(out.find("attention      sdpa\n"), std::string::npos) << out;
  EXPECT_NE(out.find("the loss read on the host after every step"), std::string::npos) << out;
}

// A baseline that dies of a signal (the H200's SIGSEGV) is reported as that signal, one line, with its whole output
// and its inputs kept for a rerun of the script alone.
TEST(BenchTrainCli, ACrashingBaselineIsNamedAndItsOutputKept) {
  const std::filesystem::path fake = std::filesystem::temp_directory_path() /
                                     ("ijepa_fake_python_" + std::to_string(::getpid()));
  ASSERT_EQ(run_shell("printf '#!/bin/sh\\necho fake baseline starting on $2\\nkill -SEGV $$\\n' > " + fake.string() +
                          " && chmod +x " + fake.string()),
            0);
  std::string out;
  EXPECT_NE(run_cli(std::string(kTiny) + " --baseline python --python " + fake.string(), &out), 0) << out;
  std::filesystem::remove(fake);
  EXPECT_NE(out.find("images/s"), std::string::npos) << out;  // the C++ figures came first
  EXPECT_NE(out.find("--baseline python: train_baseline.py killed by SIGSEGV (Segmentation fault)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("(last line: fake baseline starting on --inputs)"), std::string::npos) << out;
  const std::string marker = "its output is in ";
  const auto pos = out.find(marker);
  ASSERT_NE(pos, std::string::npos) << out;
  const auto end = out.find(',', pos);
  const std::filesystem::path log = out.substr(pos + marker.size(), end - pos - marker.size());
  EXPECT_EQ(log.filename(), "baseline.log");
  EXPECT_TRUE(std::filesystem::exists(log.parent_path() / "inputs.safetensors")) << out;
  EXPECT_NE(ijepa::test::read_text(log).find("fake baseline starting"), std::string::npos);
  std::filesystem::remove_all(log.parent_path());
}

TEST(BenchTrainCli, PythonOptionGoesWithTheBaseline) {
  std::string out;
  EXPECT_EQ(run_cli(std::string(kTiny) + " --python /usr/bin/python3", &out), 2) << out;
  EXPECT_NE(out.find("--python goes with --baseline python"), std::string::npos) << out;
}

TEST(BenchTrainCli, PythonBaselinePrintsRatio) {
  if (std::string(IJEPA_PYTHON_EXE).empty() || !std::filesystem::exists(IJEPA_PYTHON_EXE)) {
    GTEST_SKIP() << "no Python configured";
  }
  std::string out;
  ASSERT_EQ(run_cli(std::string(kTiny) + " --baseline python", &out), 0) << out;
  const std::string ratio = "C++/Python images/s = ";
  const auto pos = out.find(ratio);
  ASSERT_NE(pos, std::string::npos) << out;
  EXPECT_GT(std::stod(out.substr(pos + ratio.size())), 0.0) << out;  // "2x": a ratio may print as one digit
  // Same initial weights, images and masks: the first-step losses agree (SDPA vs explicit attention: rounding only).
  const auto lp = out.find("loss step 1    C++ ");
  ASSERT_NE(lp, std::string::npos) << out;
  double cpp = 0, py = 0;
  ASSERT_EQ(std::sscanf(out.c_str() + lp, "loss step 1 C++ %lf, Python %lf", &cpp, &py), 2) << out;
  EXPECT_NEAR(cpp, py, 1e-4 * std::abs(py) + 1e-6) << out;
}

// --profile writes a Chrome trace of the timed steps (the ViT's linear layers show as fused addmm), and
// tools/trace_ops.py reads it; a missing folder is a one-line error before anything runs.
TEST(BenchTrainCli, ProfileWritesATraceThatTraceOpsReads) {
  const auto dir = std::filesystem::temp_directory_path() / ("ijepa_bench_profile_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto trace = dir / "t.json";
  std::string out;
  ASSERT_EQ(run_cli(std::string(kTiny) + " --profile " + trace.string(), &out), 0) << out;
  ASSERT_TRUE(std::filesystem::exists(trace)) << out;
  EXPECT_NE(out.find("profile        " + trace.string()), std::string::npos) << out;
  if (!std::string(IJEPA_PYTHON_EXE).empty() && std::filesystem::exists(IJEPA_PYTHON_EXE)) {
    std::string table;
    ASSERT_EQ(run_shell(std::string(IJEPA_PYTHON_EXE) + " " + IJEPA_SOURCE_DIR + "/tools/trace_ops.py " + trace.string() +
                            " --steps 2",
                        &table),
              0)
        << table;
    EXPECT_NE(table.find("aten::bmm"), std::string::npos) << table;  // the attention's products
    // the linear layers: oneDNN's inner product in fp32 on the CPU (sdk::linear), or at::linear's addmm
    EXPECT_TRUE(table.find("mkldnn::_linear_pointwise") != std::string::npos ||
                table.find("aten::addmm") != std::string::npos) << table;
    EXPECT_NE(table.find("all ops"), std::string::npos) << table;
    EXPECT_EQ(table.find("GPU kernel"), std::string::npos) << "a CPU trace has no kernel table\n" << table;
  }
  EXPECT_NE(run_cli(std::string(kTiny) + " --profile " + (dir / "no" / "t.json").string(), &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

TEST(BenchTrainCli, BadInputIsOneLineAndNonZero) {
  std::string out;
  EXPECT_NE(run_cli("bench train --model vit_nano --patch 8 --image-size 32 --batch 4", &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("unknown model 'vit_nano'"), std::string::npos) << out;

  EXPECT_NE(run_cli("bench train --model vit_tiny --patch 5 --image-size 32 --batch 4", &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("does not divide"), std::string::npos) << out;

  EXPECT_NE(run_cli("bench train --model vit_tiny --patch 8 --image-size 32", &out), 0);  // no --batch
  EXPECT_EQ(lines(out), 1u) << out;

  EXPECT_NE(run_cli("bench train --model vit_tiny --patch 8 --image-size 32 --batch 0", &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;

  EXPECT_NE(run_cli(std::string(kTiny) + " --baseline-fp32", &out), 0);  // only with --cpu-bf16
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("--baseline-fp32 goes with --cpu-bf16"), std::string::npos) << out;

  EXPECT_NE(run_cli(std::string(kTiny) + " --attention flash", &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("--attention: expected auto, sdpa or explicit, got 'flash'"), std::string::npos) << out;
}

TEST(BenchTrainCli, CudaWithoutCudaIsOneLineAndNonZero) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA is available here";
  std::string out;
  EXPECT_NE(run_cli("bench train --model vit_tiny --patch 8 --image-size 32 --batch 4 --device cuda", &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("CUDA is not available"), std::string::npos) << out;
}
