// `ijepa bench train` through the built binary: output, the Python baseline, and one-line errors.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include "ijepa/host/build_config.hpp"
#include "host/run/test_util.hpp"

namespace {

using ijepa::test::run_cli;
using ijepa::test::run_shell;
std::size_t lines(const std::string& s) { return ijepa::test::count_lines(s); }

const char* kTiny = "bench train --model vit_tiny --patch 8 --image-size 32 --batch 4 --steps 2 --warmup 1 --device cpu";

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

void write_json(const std::filesystem::path& p, const nlohmann::json& j) { std::ofstream(p) << j.dump(2) << "\n"; }

bool have_python() { return !std::string(IJEPA_PYTHON_EXE).empty() && std::filesystem::exists(IJEPA_PYTHON_EXE); }

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
  const std::filesystem::path record = fake.string() + ".json";
  std::string out;
  EXPECT_NE(run_cli(std::string(kTiny) + " --baseline python --python " + fake.string() + " --json " + record.string(),
                    &out),
            0)
      << out;
  std::filesystem::remove(fake);
  // --json: the C++ half is kept, and the record says how the baseline ended.
  ASSERT_TRUE(std::filesystem::exists(record)) << out;
  const nlohmann::json rec = read_json(record);
  std::filesystem::remove(record);
  EXPECT_GT(rec.at("cpp").at("images_per_s").get<double>(), 0.0) << rec.dump(2);
  EXPECT_EQ(rec.at("baseline_status").get<std::string>().rfind("failed: train_baseline.py killed by SIGSEGV", 0), 0u)
      << rec.dump(2);
  EXPECT_TRUE(rec.at("python").is_null());
  EXPECT_TRUE(rec.at("ratio").is_null());
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
  if (!have_python()) GTEST_SKIP() << "no Python configured";
  const auto record = std::filesystem::temp_directory_path() / ("ijepa_bench_record_" + std::to_string(::getpid()) + ".json");
  std::string out;
  ASSERT_EQ(run_cli(std::string(kTiny) + " --baseline python --json " + record.string(), &out), 0) << out;
  const std::string ratio = "C++/Python images/s = ";
  const auto pos = out.find(ratio);
  ASSERT_NE(pos, std::string::npos) << out;
  EXPECT_GT(std::stod(out.substr(pos + ratio.size())), 0.0) << out;  // "2x": a ratio may print as one digit
  // --json holds the same figures as the printout, both sides, and the ratio between them.
  ASSERT_TRUE(std::filesystem::exists(record)) << out;
  const nlohmann::json rec = read_json(record);
  std::filesystem::remove(record);
  EXPECT_EQ(rec.at("baseline_status"), "done");
  const double cpp_ips = rec.at("cpp").at("images_per_s").get<double>();
  const double py_ips = rec.at("python").at("images_per_s").get<double>();
  ASSERT_GT(py_ips, 0.0) << rec.dump(2);
  EXPECT_NEAR(rec.at("ratio").get<double>(), cpp_ips / py_ips, 1e-9 * cpp_ips / py_ips);
  EXPECT_EQ(rec.at("python").at("step_s").size(), 2u);
  EXPECT_NEAR(rec.at("cpp").at("loss_first").get<double>(), rec.at("python").at("loss_first").get<double>(), 1e-4);
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

// --json without a baseline: the setup and the C++ figures, the baseline "not run"; the printed images/s is the
// record's.
TEST(BenchTrainCli, JsonRecordsTheSetupAndTheFigures) {
  const auto dir = ijepa::test::temp_dir("bench_json");
  std::string out;
  ASSERT_EQ(run_cli(std::string(kTiny) + " --attention sdpa --json " + (dir / "r.json").string(), &out), 0) << out;
  const nlohmann::json rec = read_json(dir / "r.json");
  EXPECT_EQ(rec.at("schema"), "ijepa.bench_train/1");
  EXPECT_EQ(rec.at("model"), "vit_tiny");
  EXPECT_EQ(rec.at("batch"), 4);
  EXPECT_EQ(rec.at("attention"), "sdpa");
  EXPECT_EQ(rec.at("device"), "cpu");
  EXPECT_EQ(rec.at("baseline_status"), "not run");
  EXPECT_TRUE(rec.at("python").is_null());
  const nlohmann::json& cpp = rec.at("cpp");
  EXPECT_EQ(cpp.at("step_s").size(), 2u);
  const double ips = cpp.at("images_per_s").get<double>();
  EXPECT_NEAR(ips, 4.0 / cpp.at("median_step_s").get<double>(), 1e-9 * ips);
  EXPECT_GT(cpp.at("mfu").get<double>(), 0.0);
  EXPECT_LT(cpp.at("mfu").get<double>(), 1.0);
  EXPECT_GT(cpp.at("peak_bytes").get<double>(), 0.0);
  const auto printed = out.find("  C++            ");
  ASSERT_NE(printed, std::string::npos) << out;
  EXPECT_NEAR(std::stod(out.substr(printed + 17)), ips, 0.01 * ips) << out;  // printed to 3 significant digits
  // A missing folder: one line, before anything runs.
  EXPECT_NE(run_cli(std::string(kTiny) + " --json " + (dir / "no" / "r.json").string(), &out), 0);
  EXPECT_EQ(lines(out), 1u) << out;
  EXPECT_NE(out.find("--json"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

// tools/device_table.py: every target's verdict follows the figures in the records (met / missed at the thresholds),
// and a stage that left no record says "not measured". Records: a real CPU one, its figures set for the check.
TEST(DeviceTable, VerdictsFollowTheFiguresAndMissingStagesSayNotMeasured) {
  if (!have_python()) GTEST_SKIP() << "no Python configured";
  namespace fs = std::filesystem;
  const auto dir = ijepa::test::temp_dir("device_table");
  const auto keep = dir / "keep";
  fs::create_directories(keep);
  std::string out;
  ASSERT_EQ(run_cli(std::string(kTiny) + " --json " + (dir / "r.json").string(), &out), 0) << out;
  const nlohmann::json real = read_json(dir / "r.json");
  const auto table = [&](std::string* text, const std::string& extra = "") {
    return run_shell(std::string(IJEPA_PYTHON_EXE) + " " + IJEPA_SOURCE_DIR + "/tools/device_table.py " +
                         keep.string() + " --commit abc123 --seconds 401 --out " + (dir / "t.md").string() + extra,
                     text);
  };
  // Nothing there yet: every target not measured, never a figure.
  ASSERT_EQ(table(&out), 0) << out;
  for (const char* s : {"ViT-B/16: not measured", "ViT-H/14: not measured", "whole loop at 224 px: not measured",
                        "all CUDA tests pass: not run", "no crash: not measured", "the check within 480 s: 401 s, met"})
    EXPECT_NE(out.find(s), std::string::npos) << s << "\n" << out;

  // ViT-B/16: 2.0x the baseline, MFU 36 %, less memory (all met); ViT-H/14: 1.79x, MFU 54.9 %, more memory (missed).
  const auto with = [&](const std::string& model, double cpp_ips, double py_ips, double mfu, double cpp_mem,
                        double py_mem) {
    nlohmann::json r = real;
    r["model"] = model;
    r["device_name"] = "Test Card (sm_90, 1000 MiB)";
    r["cpp"]["images_per_s"] = cpp_ips;
    r["cpp"]["mfu"] = mfu;
    r["cpp"]["peak_bytes"] = cpp_mem;
    r["python"] = {{"images_per_s", py_ips}, {"median_step_s", 128.0 / py_ips}, {"peak_bytes", py_mem},
                   {"loss_first", 0.5}};
    r["ratio"] = cpp_ips / py_ips;
    r["ratio_fastest"] = cpp_ips / py_ips;
    r["baseline_status"] = "done";
    return r;
  };
  write_json(keep / "bench_vit_base.json", with("vit_base", 2000, 1000, 0.36, 1 << 30, 2.0 * (1 << 30)));
  write_json(keep / "bench_vit_huge.json", with("vit_huge", 179, 100, 0.549, 3.0 * (1 << 30), 2.0 * (1 << 30)));
  nlohmann::json ab = real;
  ab["cpp"]["images_per_s"] = 500.0;
  write_json(keep / "bench_ab_sdpa_torch.json", ab);
  write_json(keep / "cuda_tests.json",
             {{"tests", 2},
              {"testsuites",
               {{{"name", "CudaStep"},
                 {"testsuite",
                  {{{"name", "A"}, {"status", "RUN"}, {"result", "COMPLETED"}},
                   {{"name", "B"}, {"status", "RUN"}, {"result", "COMPLETED"}, {"failures", {{{"failure", "x"}}}}},
                   {{"name", "DISABLED_C"}, {"status", "NOTRUN"}, {"result", "SUPPRESSED"}}}}}}}});
  std::ofstream(keep / "whole_loop.jsonl")
      << R"({"name": "small", "model": "vit_tiny", "patch": 4, "image_size": 32, "batch": 256, "loop_images_per_s": 50, "step_images_per_s": 100})"
      << "\n"
      << R"({"name": "big", "model": "vit_base", "patch": 16, "image_size": 224, "batch": 128, "loop_images_per_s": 1810, "step_images_per_s": 2000})"
      << "\n"
      << R"({"name": "broken", "error": "ijepa train: boom"})" << "\n";
  ASSERT_EQ(table(&out), 0) << out;
  EXPECT_EQ(ijepa::test::read_text(dir / "t.md"), out);
  for (const char* s : {"### GPU: Test Card (sm_90, 1000 MiB)", "Commit abc123", "401 s in all",
                        "ViT-B/16 C++/Python 2.000× against ≥ 1.8×: met", "ViT-B/16 MFU 36.00 % against ≥ 35 %: met",
                        "ViT-B/16 peak memory 1,024 MiB against the baseline's 2,048 MiB: met",
                        "ViT-H/14 C++/Python 1.790× against ≥ 1.8×: missed",
                        "ViT-H/14 MFU 54.90 % against ≥ 55 %: missed",
                        "ViT-H/14 peak memory 3,072 MiB against the baseline's 2,048 MiB: missed",
                        "whole loop big: loop/step 0.905 against ≥ 0.9: met", "| broken | failed: ijepa train: boom",
                        "0.500 | (shown, no target) |",
                        "1 passed, 1 failed, 1 not run: failed CudaStep.B; not run CudaStep.DISABLED_C",
                        "all CUDA tests pass: missed", "torch's own SDPA backend order", "no crash: met"})
    EXPECT_NE(out.find(s), std::string::npos) << s << "\n" << out;
  // The A/B row: the default's images/s over the switched run's (2000 / 500).
  EXPECT_NE(out.find("| 500 | "), std::string::npos) << out;
  EXPECT_NE(out.find(" | 4.00× |"), std::string::npos) << out;
  EXPECT_EQ(out.find("whole loop small: loop/step"), std::string::npos) << "no target below 224 px\n" << out;

  // A crash: ViT-H/14's record stops before the baseline's figures (the process died), its console output has a
  // crash report, and a NaN loss (null in JSON) prints as n/a instead of stopping the table.
  nlohmann::json huge = with("vit_huge", 179, 100, 0.549, 3.0 * (1 << 30), 2.0 * (1 << 30));
  huge["python"] = nullptr;
  huge["ratio"] = nullptr;
  huge["baseline_status"] = "running";
  huge["cpp"]["loss_first"] = nullptr;
  write_json(keep / "bench_vit_huge.json", huge);
  nlohmann::json base = with("vit_base", 2000, 1000, 0.36, 1 << 30, 2.0 * (1 << 30));
  base["cpp"]["loss_first"] = 0.25;
  base["python"]["loss_first"] = nullptr;
  write_json(keep / "bench_vit_base.json", base);
  ijepa::test::write_text(dir / "results.txt", "ijepa: fatal signal SIGSEGV (Segmentation fault) while: running\n");
  ASSERT_EQ(table(&out, " --results " + (dir / "results.txt").string()), 0) << out;
  for (const char* s : {"ViT-H/14 ratio and memory against the baseline: not measured (baseline running)",
                        "no crash: missed (bench_vit_huge: baseline running; results: \"fatal signal\"",
                        "| baseline | done | running | done |", "| loss at step 1, C++ / Python | 0.25000 / n/a |"})
    EXPECT_NE(out.find(s), std::string::npos) << s << "\n" << out;
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
