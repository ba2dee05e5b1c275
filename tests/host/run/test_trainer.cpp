#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "test_util.hpp"
#include "ijepa/host/run/training_data.hpp"

using namespace ijepa;
using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {

nlohmann::json resolved_tiny(const nlohmann::json& patch = nlohmann::json::object()) {
  nlohmann::json cfg = test::tiny_experiment();
  cfg.merge_patch(patch);
  auto dir = test::temp_dir("resolve");
  test::write_text(dir / "e.json", cfg.dump());
  auto r = resolve_experiment(load_layered(dir / "e.json"), {}, test::builtin_plugins().registry(), "e.json");
  fs::remove_all(dir);
  return r;
}

Batch fixed_batch(JepaModel& model, std::int64_t step, std::int64_t bs = 8) {
  DataLoaderOptions lo;
  lo.batch_size = bs;
  lo.image_size = 32;
  lo.workers = 1;
  auto ds = open_synthetic(64, 32, 4, 1);
  Loader loader(ds, make_rank_masker(model.config(), test::builtin_plugins().registry(), 0).ptr, lo, 0);
  return loader.make_batch(step);
}

std::vector<nlohmann::json> read_jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

using test::run_cli;

}  // namespace

TEST(JepaModel, ParameterGroupsDecayMaskTokenNotBiasesOrNorms) {
  JepaModel model(resolved_tiny(), test::builtin_plugins().registry());
  const TensorMap st = model.trainer_state();
  // AdamW state keys carry the parameter names; groups are checked through the optimiser's own groups.
  (void)st;
  // Decay classification is by the official rule; check representative parameters.
  auto decayed = [&](const std::string& name) {
    for (const auto& p : model.predictor()->named_parameters(true)) {
      if ("predictor." + p.key() == name) return p.key().find("bias") == std::string::npos && p.value().dim() != 1;
    }
    for (const auto& p : model.encoder()->named_parameters(true)) {
      if ("encoder." + p.key() == name) return p.key().find("bias") == std::string::npos && p.value().dim() != 1;
    }
    ADD_FAILURE() << "no parameter " << name;
    return false;
  };
  EXPECT_TRUE(decayed("predictor.mask_token"));
  EXPECT_TRUE(decayed("encoder.blocks.0.attn.qkv.weight"));
  EXPECT_FALSE(decayed("encoder.blocks.0.attn.qkv.bias"));
  EXPECT_FALSE(decayed("encoder.blocks.0.norm1.weight"));
  EXPECT_FALSE(decayed("encoder.norm.weight"));
  EXPECT_FALSE(decayed("predictor.predictor_norm.bias"));
}

TEST(JepaModel, TargetStartsAsCopyAndEmaFollowsFormula) {
  JepaModel model(resolved_tiny(), test::builtin_plugins().registry());
  Schedules s;
  s.warmup_steps = 2;
  s.total_steps = 10;
  model.set_schedules(s);
  const TensorMap w0 = model.weights();
  for (const auto& [k, v] : w0) {
    if (k.rfind("encoder.", 0) == 0) {
      ASSERT_TRUE(at::equal(v, w0.at("target_" + k))) << k;
    }
  }
  Batch b = fixed_batch(model, 0);
  auto r = model.train_step(b, 0);
  EXPECT_DOUBLE_EQ(r.ema_m, 0.996);
  EXPECT_DOUBLE_EQ(r.lr, s.lr(1));
  const TensorMap w1 = model.weights();
  const std::string k = "blocks.0.attn.qkv.weight";
  const at::Tensor expect = w0.at("target_encoder." + k) * 0.996 + w1.at("encoder." + k) * (1 - 0.996);
  EXPECT_TRUE(at::allclose(w1.at("target_encoder." + k), expect, 1e-6, 1e-7));
  EXPECT_FALSE(at::equal(w1.at("encoder." + k), w0.at("encoder." + k))) << "the context encoder was updated";
  EXPECT_TRUE(at::equal(w1.at("encoder.pos_embed"), w0.at("encoder.pos_embed"))) << "pos_embed is fixed";
}

TEST(JepaModel, TinyModelOverfitsAFixedBatch) {
  JepaModel model(resolved_tiny({{"train", {{"lr", 3e-3}}}}), test::builtin_plugins().registry());
  Schedules s;
  s.start_lr = 3e-3;
  s.ref_lr = 3e-3;
  s.final_lr = 3e-3;
  s.ref_wd = s.final_wd = 0.0;
  s.ema0 = s.ema1 = 1.0;  // frozen target: a fixed regression problem
  s.warmup_steps = 0;
  s.total_steps = 1000;
  model.set_schedules(s);
  Batch b = fixed_batch(model, 0);
  const double first = model.eval_loss(b.images, b.masks);
  for (int i = 0; i < 60; ++i) model.train_step(b, 0);
  const double last = model.eval_loss(b.images, b.masks);
  EXPECT_LT(last, 0.5 * first) << first << " -> " << last;
}

TEST(Train, TwoRunsWithOneSeedGiveIdenticalMetrics) {
  auto dir = test::temp_dir("det");
  test::write_text(dir / "e.json", test::tiny_experiment().dump());
  std::string out;
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "a").string() + " --quiet", &out), 0) << out;
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "b").string() + " --quiet", &out), 0) << out;
  EXPECT_NE(out.find("steps          16 (2 epochs)\n"), std::string::npos) << out;
  auto ma = read_jsonl(dir / "a" / "metrics.jsonl");
  auto mb = read_jsonl(dir / "b" / "metrics.jsonl");
  ASSERT_EQ(ma.size(), mb.size());
  ASSERT_GT(ma.size(), 3u);
  for (std::size_t i = 0; i < ma.size(); ++i) {
    for (const char* k : {"step", "loss", "lr", "wd", "ema_m", "k_enc", "k_pred"}) EXPECT_EQ(ma[i][k], mb[i][k]) << k;
  }
  // run directory layout
  for (const char* f : {"config.resolved.json", "overrides.json", "env.json", "status.json", "metrics.jsonl", "log.txt",
                        "checkpoints/LATEST", "checkpoints/latest.safetensors", "checkpoints/latest.trainer.safetensors"}) {
    EXPECT_TRUE(fs::exists(dir / "a" / f)) << f;
  }
  EXPECT_EQ(load_json_file(dir / "a" / "status.json")["state"], "completed");
  const TensorMap w = read_safetensors((dir / "a/checkpoints/latest.safetensors").string());
  EXPECT_TRUE(w.count("encoder.patch_embed.proj.weight"));
  EXPECT_TRUE(w.count("target_encoder.blocks.1.mlp.fc2.weight"));
  EXPECT_TRUE(w.count("predictor.mask_token"));
  fs::remove_all(dir);
}

TEST(Train, KillAndResumeEqualsUninterruptedBitForBit) {
  auto dir = test::temp_dir("resume");
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["epochs"] = 6;  // 48 steps, a checkpoint every 2
  test::write_text(dir / "e.json", cfg.dump());
  std::string out;
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "ref").string() + " --quiet", &out), 0)
      << out;
  // Start the same run, kill -9 it once a mid-run checkpoint exists, resume it.
  const fs::path run = dir / "killed";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cfgp = (dir / "e.json").string(), outp = run.string();
    ::execl(IJEPA_CLI, IJEPA_CLI, "train", cfgp.c_str(), "--out", outp.c_str(), "--quiet", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool killed = false;
  for (int i = 0; i < 6000; ++i) {
    std::ifstream latest(run / "checkpoints" / "LATEST");
    std::string name;
    if (latest && std::getline(latest, name) && name >= "step_00000010") {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(killed) << "the run finished before it could be killed";
  EXPECT_EQ(load_json_file(run / "status.json")["state"], "running") << "a killed run says it was running";
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + run.string() + " --resume --quiet", &out), 0)
      << out;
  const TensorMap a = read_safetensors((dir / "ref/checkpoints/latest.safetensors").string());
  const TensorMap b = read_safetensors((run / "checkpoints/latest.safetensors").string());
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [k, v] : a) EXPECT_TRUE(at::equal(v, b.at(k))) << k;
  auto ma = read_jsonl(dir / "ref" / "metrics.jsonl");
  auto mb = read_jsonl(run / "metrics.jsonl");
  ASSERT_EQ(ma.size(), mb.size());
  for (std::size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i]["loss"], mb[i]["loss"]) << i;
    EXPECT_EQ(ma[i]["loss_avg"], mb[i]["loss_avg"]) << i;
  }
  EXPECT_EQ(load_json_file(dir / "ref" / "status.json")["final_loss"],
            load_json_file(run / "status.json")["final_loss"]);
  // env.json keeps the start's environment and records the resume's (the same build: no second show_config()).
  const nlohmann::json env_ref = load_json_file(dir / "ref" / "env.json");
  const nlohmann::json env = load_json_file(run / "env.json");
  EXPECT_FALSE(env_ref.contains("resumes")) << env_ref.dump();
  ASSERT_TRUE(env.contains("resumes") && env["resumes"].is_array() && env["resumes"].size() == 1u) << env.dump();
  const nlohmann::json& again = env["resumes"][0];
  EXPECT_GE(again["at_step"].get<std::int64_t>(), 10);
  EXPECT_LT(again["at_step"].get<std::int64_t>(), 48);
  EXPECT_EQ(again["threads"], env["threads"]);
  // The host build: its GNU build id, the same for both sessions (the same binary; a rebuilt one gets a warning).
  ASSERT_TRUE(env["executable_build_id"].is_string()) << env.dump();
  EXPECT_GE(env["executable_build_id"].get<std::string>().size(), 16u) << env.dump();
  EXPECT_EQ(again["executable_build_id"], env["executable_build_id"]);
  EXPECT_NE(again["argv"].dump().find("--resume"), std::string::npos) << again.dump();
  EXPECT_EQ(env["argv"].dump().find("--resume"), std::string::npos) << env.dump();
  EXPECT_FALSE(again.contains("torch_config"));
  EXPECT_TRUE(env.contains("torch_config"));
  // TensorBoard sees the resumed run as metrics.jsonl has it: each logged step once, the killed run's steps after
  // the checkpoint purged (two event files: the killed process's and the resumed one's).
  nlohmann::json tb;
  std::string why;
  if (!test::read_tfevents(run, tb, why)) {
    fs::remove_all(dir);
    GTEST_SKIP() << why;
  }
  ASSERT_TRUE(tb.contains("train/loss")) << tb.dump();
  ASSERT_EQ(tb["train/loss"].size(), mb.size()) << tb["train/loss"].dump();
  for (std::size_t i = 0; i < mb.size(); ++i) {
    EXPECT_EQ(tb["train/loss"][i][0], mb[i]["step"]) << i;
    EXPECT_FLOAT_EQ(tb["train/loss"][i][1].get<float>(), mb[i]["loss"].get<float>()) << i;
  }
  for (const char* tag : {"train/lr", "train/wd", "train/ema_m", "train/images_per_s", "health/rank_target"}) {
    EXPECT_TRUE(tb.contains(tag)) << tag;
  }
  fs::remove_all(dir);
}

// A run stopped between two log steps and resumed logs the loss averages and ends with the final loss of a run
// that never stopped: the loss window the average needs travels in the checkpoint's trainer file ("losses"). It used
// to start empty, so the first loss_avg after a resume averaged fewer steps, and a run resumed near its end had
// another final_loss (a summary column and a --best-by metric). The final loss is the mean of the last 10 steps
// whatever train.log_every is.
TEST(Train, AResumedRunLogsTheLossAveragesAndFinalLossOfAnUninterruptedOne) {
  auto dir = test::temp_dir("resume_window");
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["epochs"] = 4;  // 32 steps, logged every 7, stopped at 11 (between two log steps) and resumed
  cfg["train"]["log_every"] = 7;
  test::write_text(dir / "e.json", cfg.dump());
  const std::string e = (dir / "e.json").string();
  std::string out;
  ASSERT_EQ(run_cli("train " + e + " --out " + (dir / "ref").string() + " --quiet", &out), 0) << out;
  const fs::path run = dir / "resumed";
  ASSERT_EQ(run_cli("train " + e + " --out " + run.string() + " --quiet --set train.max_steps=11", &out), 0) << out;
  ASSERT_EQ(run_cli("train " + e + " --out " + run.string() + " --resume --quiet", &out), 0) << out;
  EXPECT_NE(out.find("(first 7 steps) -> "), std::string::npos) << out;
  EXPECT_NE(out.find(" (last 10 steps)"), std::string::npos) << out;
  std::map<std::int64_t, nlohmann::json> resumed;
  for (const auto& r : read_jsonl(run / "metrics.jsonl")) resumed[r["step"].get<std::int64_t>()] = r;
  const auto ref = read_jsonl(dir / "ref" / "metrics.jsonl");
  ASSERT_EQ(ref.size(), 5u);  // 7, 14, 21, 28, 32
  for (const auto& r : ref) {
    const std::int64_t step = r["step"].get<std::int64_t>();
    ASSERT_EQ(resumed.count(step), 1u) << step;
    EXPECT_EQ(r["loss"], resumed[step]["loss"]) << step;
    EXPECT_EQ(r["loss_avg"], resumed[step]["loss_avg"]) << step;
  }
  const nlohmann::json a = load_json_file(dir / "ref" / "status.json"), b = load_json_file(run / "status.json");
  EXPECT_EQ(a["final_loss"], b["final_loss"]);
  // The final loss does not depend on how often the run logged.
  ASSERT_EQ(run_cli("train " + e + " --out " + (dir / "log1").string() + " --quiet --set train.log_every=1", &out), 0)
      << out;
  EXPECT_EQ(a["final_loss"], load_json_file(dir / "log1" / "status.json")["final_loss"]);
  // ... and is the mean of the last 10 logged losses of a run logged every step.
  const auto every = read_jsonl(dir / "log1" / "metrics.jsonl");
  ASSERT_EQ(every.size(), 32u);
  double sum = 0.0;
  for (std::size_t i = 22; i < 32; ++i) sum += every[i]["loss"].get<double>();
  EXPECT_DOUBLE_EQ(a["final_loss"].get<double>(), sum / 10.0);
  fs::remove_all(dir);
}

// With train.threads 0 (all cores), a resume uses the thread count the run started with, not this session's default
// (a sweep resumed with another --jobs, another OMP_NUM_THREADS): another count changes the sums' rounding, and the
// run would no longer continue bit for bit. A train.max_steps below the step the run has reached is refused (it
// gave a "completed" run whose config contradicted its weights).
TEST(Train, AResumeKeepsTheRunsThreadCountAndRefusesAMaxStepsBehindIt) {
  auto dir = test::temp_dir("resume_threads");
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["threads"] = 0;
  test::write_text(dir / "e.json", cfg.dump());
  const std::string train = "train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet";
  std::string out;
  ASSERT_EQ(test::run_shell("OMP_NUM_THREADS=1 " + std::string(IJEPA_CLI) + " " + train + " --set train.max_steps=6",
                            &out),
            0)
      << out;
  EXPECT_EQ(load_json_file(dir / "r" / "env.json")["threads"], 1);
  EXPECT_NE(run_cli(train + " --resume --set train.max_steps=4", &out), 0);
  EXPECT_NE(out.find("--resume: train.max_steps 4 ends before the step the run has reached (6); raise it, or set 0 "
                     "for the whole run"),
            std::string::npos)
      << out;
  EXPECT_EQ(load_json_file(dir / "r" / "status.json")["step"], 6) << "the refused resume changed nothing";
  ASSERT_EQ(test::run_shell("OMP_NUM_THREADS=2 " + std::string(IJEPA_CLI) + " " + train + " --resume", &out), 0)
      << out;
  const nlohmann::json env = load_json_file(dir / "r" / "env.json");
  ASSERT_EQ(env["resumes"].size(), 1u) << env.dump();
  EXPECT_EQ(env["resumes"][0]["threads"], 1) << env.dump();
  EXPECT_NE(test::read_text(dir / "r" / "log.txt").find("resume: 1 intra-op threads, as the run started with"),
            std::string::npos);
  fs::remove_all(dir);
}

// train.cpu_bf16 (opt-in): bf16 autocast around the CPU forward. Same weights and batch: the loss moves by bf16
// rounding only (within 1 %), and it does move, so the autocast is really on; a training step stays finite.
TEST(JepaModel, CpuBf16AutocastLossMatchesFp32WithinOnePercent) {
  JepaModel fp32(resolved_tiny(), test::builtin_plugins().registry());
  JepaModel bf16(resolved_tiny({{"train", {{"cpu_bf16", true}}}}), test::builtin_plugins().registry());
  bf16.load(fp32.weights(), fp32.trainer_state(), 0, "fp32 model");
  const Batch b = fixed_batch(fp32, 0);
  const double l32 = fp32.eval_loss(b.images, b.masks);
  const double l16 = bf16.eval_loss(b.images, b.masks);
  EXPECT_NEAR(l16, l32, 1e-2 * std::abs(l32)) << "fp32 " << l32 << " bf16 " << l16;
  EXPECT_NE(l16, l32) << "cpu_bf16 changed nothing: the autocast is not on";
  Schedules s;
  s.total_steps = 10;
  bf16.set_schedules(s);
  EXPECT_TRUE(std::isfinite(bf16.train_step(b, 0).loss_value()));
  // after the step, the module outputs are fp32 again (the autocast covers the forward only)
  EXPECT_EQ(at::linear(at::ones({1, 4}), at::ones({2, 4})).scalar_type(), at::kFloat);
}

// A run written before train.cpu_bf16 and the ViT plugins' `attention` existed resumes (a missing key counts as
// its default); a run whose stored value differs does not.
// A session that takes no step (a resume of a finished run, a trial stopped before its first step) has no loss: it
// said "loss 0 -> 0" and wrote final_loss 0 into status.json, which the sweep summaries then averaged.
TEST(Train, ASessionWithoutAStepHasNoLoss) {
  auto dir = test::temp_dir("nostep");
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["max_steps"] = 2;
  test::write_text(dir / "e.json", cfg.dump());
  std::string out;
  const std::string run = (dir / "run").string();
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + run, &out), 0) << out;
  const nlohmann::json first = load_json_file(dir / "run" / "status.json");
  ASSERT_TRUE(first["final_loss"].is_number()) << first.dump();
  EXPECT_GT(first["final_loss"].get<double>(), 0.0);
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + run + " --resume", &out), 0) << out;
  EXPECT_NE(out.find("loss           none (no step taken in this session)"), std::string::npos) << out;
  const nlohmann::json again = load_json_file(dir / "run" / "status.json");
  EXPECT_EQ(again["state"], "completed");
  EXPECT_EQ(again["final_loss"], first["final_loss"]) << "the loss the run ended with stays";
  // The time of every session: the first's, then both.
  EXPECT_EQ(first["seconds_total"], first["seconds"]) << first.dump();
  EXPECT_DOUBLE_EQ(again["seconds_total"].get<double>(),
                   first["seconds"].get<double>() + again["seconds"].get<double>());
  fs::remove_all(dir);
}

// train.init_from: a new run starts from another model's weights (a run's checkpoint, a converted official file);
// a file with the encoder alone gives the target encoder too (its copy, as officially) and leaves the predictor as
// initialised; another architecture is refused naming the tensor.
TEST(JepaModel, InitFromTakesTheWeightsGroupByGroup) {
  const auto& reg = test::builtin_plugins().registry();
  JepaModel from(resolved_tiny({{"seed", 7}}), reg);
  const TensorMap w = from.weights();
  {
    JepaModel m(resolved_tiny(), reg);
    const TensorMap before = m.weights();
    ASSERT_FALSE(at::equal(before.at("encoder.patch_embed.proj.weight"), w.at("encoder.patch_embed.proj.weight")))
        << "the two seeds should initialise differently";
    EXPECT_EQ(m.init_from(w, "w.safetensors"),
              "encoder from encoder, target encoder from target_encoder, predictor from predictor");
    for (const auto& [k, v] : m.weights()) EXPECT_TRUE(at::equal(v, w.at(k))) << k;
  }
  {
    JepaModel m(resolved_tiny(), reg);
    const TensorMap own = m.weights();
    TensorMap enc;
    for (const auto& [k, v] : w) {
      if (k.rfind("encoder.", 0) == 0) enc[k] = v;
    }
    EXPECT_EQ(m.init_from(enc, "enc.safetensors"),
              "encoder from encoder, target encoder from encoder, predictor initialised afresh");
    for (const auto& [k, v] : m.weights()) {
      if (k.rfind("predictor.", 0) == 0) {
        EXPECT_TRUE(at::equal(v, own.at(k))) << k;
      } else {
        const std::string src = k.rfind("target_encoder.", 0) == 0 ? k.substr(7) : k;  // target_encoder.x <- encoder.x
        EXPECT_TRUE(at::equal(v, w.at(src))) << k;
      }
    }
  }
  JepaModel wide(resolved_tiny({{"components", {{"encoder", {{"embed_dim", 48}, {"num_heads", 2}}}}}}), reg);
  try {
    JepaModel m(resolved_tiny(), reg);
    m.init_from(wide.weights(), "wide.safetensors");
    FAIL() << "another width was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("wide.safetensors: tensor 'encoder."), std::string::npos) << e.what();
  }
  try {
    JepaModel m(resolved_tiny(), reg);
    m.init_from({{"predictor.x", at::zeros({1})}}, "p.safetensors");
    FAIL() << "a file without an encoder was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no encoder.* or target_encoder.* tensors"), std::string::npos) << e.what();
  }
}

// Through `ijepa train`: a run started from another run's directory holds that run's weights at step 0 (learning
// rates 0 here, so the encoder and predictor stay as loaded); a bad path is one line naming the key and the --set.
TEST(Train, InitFromStartsANewRunFromAnotherRunsWeights) {
  auto dir = test::temp_dir("init_from");
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["max_steps"] = 2;
  test::write_text(dir / "e.json", cfg.dump());
  std::string out;
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "a").string() + " --quiet", &out), 0)
      << out;
  const std::string sets = " --set train.lr=0 --set train.start_lr=0 --set train.final_lr=0 --set seed=5";
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "b").string() + sets +
                        " --set train.init_from=" + (dir / "a").string() + " --quiet",
                    &out),
            0)
      << out;
  const TensorMap a = read_safetensors((dir / "a/checkpoints/latest.safetensors").string());
  const TensorMap b = read_safetensors((dir / "b/checkpoints/latest.safetensors").string());
  for (const auto& [k, v] : a) {
    if (k.rfind("target_encoder.", 0) != 0) {
      EXPECT_TRUE(at::equal(b.at(k), v)) << k;
    }
  }
  // The log names the step file the run directory's latest checkpoint was.
  EXPECT_NE(test::read_text(dir / "b/log.txt").find("train.init_from: started from " + (dir / "a").string() +
                                                     "/checkpoints/step_00000002.safetensors: encoder from encoder"),
            std::string::npos)
      << test::read_text(dir / "b/log.txt");
  // A resume reads the run's own checkpoint: the source may be gone, and the key may be left out or kept.
  fs::rename(dir / "a", dir / "a.moved");
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "b").string() + sets +
                        " --set train.init_from=" + (dir / "a").string() + " --set train.max_steps=4 --resume --quiet",
                    &out),
            0)
      << out;
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "b").string() + sets +
                        " --set train.max_steps=6 --resume --quiet",
                    &out),
            0)
      << out;
  EXPECT_EQ(load_json_file(dir / "b/status.json")["step"], 6);
  EXPECT_EQ(load_json_file(dir / "b/config.resolved.json")["train"]["init_from"], (dir / "a").string())
      << "the run records what it started from";
  // Without a checkpoint a resume starts afresh, from the weights the key names: it must be the same key.
  fs::remove_all(dir / "b/checkpoints");
  fs::create_directories(dir / "b/checkpoints");
  EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "b").string() + sets +
                        " --set train.max_steps=6 --resume",
                    &out),
            0);
  EXPECT_NE(out.find("the config differs"), std::string::npos) << out;
  EXPECT_NE(out.find("at 'train.init_from'"), std::string::npos) << out;
  // A path that is not there: one line, the key, the --set; no run directory.
  EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "c").string() +
                        " --set train.init_from=" + (dir / "nowhere").string(),
                    &out),
            0);
  EXPECT_NE(out.find("train.init_from: no such checkpoint file or run directory"), std::string::npos) << out;
  EXPECT_NE(out.find("--set train.init_from"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir / "c"));
  fs::remove_all(dir);
}

TEST(Train, ResumeOfARunWithoutANewerTrainKey) {
  auto dir = test::temp_dir("oldkey");
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["max_steps"] = 2;
  test::write_text(dir / "e.json", cfg.dump());
  std::string out;
  const std::string run = (dir / "run").string();
  ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + run + " --quiet", &out), 0) << out;
  nlohmann::json stored = load_json_file(dir / "run" / "config.resolved.json");
  ASSERT_TRUE(stored["train"].contains("cpu_bf16"));
  stored["train"].erase("cpu_bf16");
  for (const char* c : {"encoder", "predictor"}) {
    ASSERT_EQ(stored["components"][c]["attention"], "auto") << c;
    stored["components"][c].erase("attention");
  }
  test::write_text(dir / "run" / "config.resolved.json", stored.dump(2));
  // A damaged env.json does not stop the resume; it is left as it is, and a warning says the resume went unrecorded.
  test::write_text(dir / "run" / "env.json", "{\"threads\": 1,");
  EXPECT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + run + " --resume --set train.max_steps=4 --quiet",
                    &out),
            0)
      << out;
  EXPECT_EQ(read_jsonl(dir / "run" / "metrics.jsonl").back()["step"], 4) << out;
  EXPECT_EQ(test::read_text(dir / "run" / "env.json"), "{\"threads\": 1,");
  EXPECT_NE(out.find("this resume's environment is not recorded"), std::string::npos) << out;
  test::write_text(dir / "run" / "env.json", "{\"threads\": 1}");  // refused resumes below add no record
  stored["train"]["cpu_bf16"] = true;
  test::write_text(dir / "run" / "config.resolved.json", stored.dump(2));
  EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out " + run + " --resume --set train.max_steps=6 --quiet",
                    &out),
            0);
  EXPECT_NE(out.find("'train.cpu_bf16'"), std::string::npos) << out;
  EXPECT_EQ(out.find("e.json: --resume"), std::string::npos) << "a resume's error is not a file's value error: " << out;
  stored["train"].erase("cpu_bf16");
  stored["components"]["predictor"]["attention"] = "sdpa";
  test::write_text(dir / "run" / "config.resolved.json", stored.dump(2));
  EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out " + run + " --resume --set train.max_steps=6 --quiet",
                    &out),
            0);
  EXPECT_NE(out.find("'components.predictor.attention'"), std::string::npos) << out;
  EXPECT_EQ(test::read_text(dir / "run" / "env.json"), "{\"threads\": 1}");
  fs::remove_all(dir);
}

TEST(Train, BadInputFailsWithOneLineAndLeavesNoRunDirectory) {
  auto dir = test::temp_dir("badtrain");
  auto attempt = [&](const nlohmann::json& patch, const std::string& extra, const std::string& needle) {
    nlohmann::json cfg = test::tiny_experiment();
    cfg.merge_patch(patch);
    test::write_text(dir / "e.json", cfg.dump());
    const fs::path out = dir / "run";
    std::string text;
    const int rc = run_cli("train " + (dir / "e.json").string() + " --out " + out.string() + " --quiet " + extra, &text);
    EXPECT_NE(rc, 0) << patch.dump();
    EXPECT_NE(text.find(needle), std::string::npos) << text;
    EXPECT_FALSE(fs::exists(out)) << "no run directory for " << patch.dump();
    fs::remove_all(out);
  };
  attempt({{"components", {{"masker", {{"min_keep", 20}}}}}}, "", "min_keep");
  attempt({{"components", {{"encoder", {{"patch_size", 5}}}}}}, "", "patch_size");
  attempt({{"data", {{"source", "fashion_mnist"}, {"root", "/nonexistent/fmnist"}}}}, "", "/nonexistent/fmnist");
  attempt({{"train", {{"epochs", "x"}}}}, "", "train.epochs");
  attempt(nlohmann::json::object(), "--set train.nope=1", "train.nope");
  {
    test::write_text(dir / "bad.json", "{\n \"name\": 1,\n ]");
    std::string text;
    EXPECT_NE(run_cli("train " + (dir / "bad.json").string() + " --out " + (dir / "run").string(), &text), 0);
    EXPECT_NE(text.find("bad.json:3:"), std::string::npos) << text;
  }
  {
    test::write_text(dir / "e.json", test::tiny_experiment().dump());
    std::string text;
    EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out /proc/ijepa_unwritable/run --quiet", &text), 0);
    EXPECT_NE(text.find("not writable"), std::string::npos) << text;
  }
  // resume with a different config refuses and leaves the run intact
  {
    nlohmann::json cfg = test::tiny_experiment();
    cfg["train"]["epochs"] = 1;
    test::write_text(dir / "e.json", cfg.dump());
    std::string text;
    ASSERT_EQ(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r1").string() + " --quiet", &text), 0)
        << text;
    const std::string before = read_safetensors((dir / "r1/checkpoints/latest.safetensors").string()).begin()->first;
    EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r1").string() +
                          " --resume --quiet --set train.lr=0.5",
                      &text),
              0);
    EXPECT_NE(text.find("train.lr"), std::string::npos) << text;
    EXPECT_NE(run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r1").string() + " --quiet", &text), 0);
    EXPECT_NE(text.find("already exists"), std::string::npos) << text;
    EXPECT_EQ(load_json_file(dir / "r1" / "status.json")["state"], "completed");
  }
  fs::remove_all(dir);
}

// train.keep_epoch_checkpoints: each epoch_NNNN.safetensors is the step's weights file byte for byte, metadata
// included (step, epoch, name, the CRC-32s that loading verifies); it used to lack all but the config.
TEST(Trainer, EpochCopiesCarryTheStepFilesMetadata) {
  const fs::path dir = test::temp_dir("epoch_copies");
  nlohmann::json exp = test::tiny_experiment();
  exp["train"]["keep_epoch_checkpoints"] = 1;
  exp["train"]["checkpoint_every"] = 0;
  test::write_text(dir / "e.json", exp.dump());
  std::string out;
  ASSERT_EQ(test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet", &out),
            0)
      << out;
  const fs::path ck = dir / "r" / "checkpoints";
  for (int epoch : {1, 2}) {
    char name[32];
    std::snprintf(name, sizeof(name), "epoch_%04d.safetensors", epoch);
    ASSERT_TRUE(fs::exists(ck / name)) << name;
    StringMap meta;
    const TensorMap w = read_safetensors((ck / name).string(), &meta);
    EXPECT_EQ(meta.at("epoch"), std::to_string(epoch)) << name;
    EXPECT_EQ(meta.at("name").rfind("step_", 0), 0u) << name;
    ASSERT_TRUE(meta.count("crc32")) << name;
    EXPECT_NO_THROW(verify_checksums(w, meta, name));
  }
  // The last one is the final step's file itself.
  EXPECT_EQ(test::read_text(ck / "epoch_0002.safetensors"), test::read_text(ck / "latest.safetensors"));
  for (const auto& e : fs::directory_iterator(ck)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
  // A stop between the step file and its epoch copy (kill -9, a full disk): the resume makes the copy it lacks (it
  // was lost for good, without a word, as LATEST already named the step).
  const std::string before = test::read_text(ck / "epoch_0002.safetensors");
  fs::remove(ck / "epoch_0002.safetensors");
  ASSERT_EQ(test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --resume", &out),
            0)
      << out;
  EXPECT_EQ(test::read_text(ck / "epoch_0002.safetensors"), before);
  EXPECT_NE(out.find("resume: checkpoints/epoch_0002.safetensors was missing"), std::string::npos) << out;
  fs::remove_all(dir);
}

// A plugin rebuilt between two sessions of a run (a fixed loss, say) is said at the resume, against the build the
// session before used; env.json keeps both. The same for the ijepa executable (its GNU build id).
TEST(Trainer, AResumeWithARebuiltPluginSaysSo) {
  const fs::path dir = test::temp_dir("resume_rebuilt_plugin");
  test::write_text(dir / "e.json", test::tiny_experiment().dump());
  const std::string train = "train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet";
  std::string out;
  ASSERT_EQ(test::run_cli(train + " --set train.max_steps=2", &out), 0) << out;
  EXPECT_NE(out.find("steps          2 (0.25 epochs)\n"), std::string::npos) << "8 steps an epoch: " << out;
  nlohmann::json env = nlohmann::json::parse(test::read_text(dir / "r" / "env.json"));
  ASSERT_FALSE(env["plugins"].empty());
  const std::string id = env["plugins"][0]["id"].get<std::string>();
  env["plugins"][0]["sha256"] = std::string(64, '0');  // as if it had been another build
  const std::string exe = env["executable_build_id"].get<std::string>();
  env["executable_build_id"] = std::string(40, 'a');  // and another build of the host
  test::write_text(dir / "r" / "env.json", env.dump(2));
  nlohmann::json cfg = nlohmann::json::parse(test::read_text(dir / "r" / "config.resolved.json"));
  cfg["train"].erase("tensorboard");  // as a build from before the key wrote it: not a change (its default)
  test::write_text(dir / "r" / "config.resolved.json", cfg.dump(2));
  ASSERT_EQ(test::run_cli(train + " --set train.max_steps=4 --resume", &out), 0) << out;
  EXPECT_NE(out.find("resume: 1 plugin(s) differ from the build the run last used: " + id + " (sha256 000000000000 "
                     "then, "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("steps from 2 on use this build"), std::string::npos) << out;
  EXPECT_NE(out.find("resume: the ijepa executable differs from the build the run last used (build id aaaaaaaaaaaa "
                     "then, " + exe.substr(0, 12) + " now); steps from 2 on"),
            std::string::npos)
      << out;
  ASSERT_EQ(test::run_cli(train + " --set train.max_steps=6 --set data.workers=1 --resume", &out), 0) << out;
  EXPECT_EQ(out.find("plugin(s) differ"), std::string::npos) << "against the last session's build: " << out;
  // config.resolved.json holds the latest session's incidental keys; env.json keeps what each session changed.
  env = nlohmann::json::parse(test::read_text(dir / "r" / "env.json"));
  ASSERT_EQ(env["resumes"].size(), 2u) << env.dump(2);
  EXPECT_EQ(env["resumes"][0]["config_changes"],
            nlohmann::json::parse(R"({"train.max_steps": {"was": 2, "now": 4}})"));
  EXPECT_EQ(env["resumes"][1]["config_changes"],
            nlohmann::json::parse(
                R"({"train.max_steps": {"was": 4, "now": 6}, "data.workers": {"was": 2, "now": 1}})"));
  EXPECT_EQ(nlohmann::json::parse(test::read_text(dir / "r" / "config.resolved.json"))["data"]["workers"], 1);
  EXPECT_EQ(out.find("executable differs"), std::string::npos) << "against the last session's build: " << out;
  fs::remove_all(dir);
}

// The encoder's and predictor's outputs are checked against the SDK's shapes where they come back, naming the plugin:
// a wrong width was blamed on the next component (the predictor's matmul, the loss's shape check), and a [1, K, D]
// prediction trained to "completed" through broadcasting.
TEST(JepaForward, OutputsThatBreakTheContractNameThePlugin) {
  struct FakeEncoder final : sdk::Encoder {
    std::string fault;
    at::Tensor encode(const at::Tensor& images, const std::vector<at::Tensor>* keep) override {
      const std::int64_t b = images.size(0);
      at::Tensor t = keep == nullptr ? at::zeros({b, 16, 8}) : at::zeros({b * static_cast<std::int64_t>(keep->size()),
                                                                          keep->front().size(1), 8});
      if (fault == "wide") t = at::zeros({t.size(0), t.size(1), 9});
      if (fault == "f64") t = t.to(at::kDouble);
      if (fault == "bf16") t = t.to(at::kBFloat16);
      if (fault == "extra_token" && keep == nullptr) t = at::zeros({b, 17, 8});
      return t;
    }
    std::int64_t embed_dim() const override { return 8; }
    std::int64_t num_heads() const override { return 1; }
    std::int64_t depth() const override { return 1; }
    sdk::PatchGrid grid() const override { return {4, 4}; }
    const void* capability(std::string_view) const noexcept override { return nullptr; }
  };
  struct FakePredictor final : sdk::Predictor {
    std::string fault;
    at::Tensor w = at::ones({1}).set_requires_grad(true);
    at::Tensor predict(const at::Tensor& z, const std::vector<at::Tensor>& mc,
                       const std::vector<at::Tensor>& mt) override {
      const auto nenc = static_cast<std::int64_t>(mc.size());
      const auto rows = static_cast<std::int64_t>(mt.size()) * nenc * (z.size(0) / nenc);
      at::Tensor p = at::zeros({rows, mt.front().size(1), 8}) * w;
      if (fault == "one_row") p = at::zeros({1, mt.front().size(1), 8}) * w;
      if (fault == "detached") p = p.detach();
      return p;
    }
    std::int64_t output_dim() const override { return 8; }
    const void* capability(std::string_view) const noexcept override { return nullptr; }
  };
  auto enc = std::make_shared<FakeEncoder>();
  auto pred = std::make_shared<FakePredictor>();
  const Component<sdk::Encoder> e{enc, "org.example.enc", "encoder/fake"};
  const Component<sdk::Predictor> p{pred, "org.example.pred", "predictor/fake"};
  const at::Tensor images = at::zeros({2, 3, 16, 16});
  const std::vector<at::Tensor> mctx{at::arange(6, at::kLong).repeat({2, 1})};
  const std::vector<at::Tensor> mtgt{at::arange(10, 14, at::kLong).repeat({2, 1}),
                                     at::arange(12, 16, at::kLong).repeat({2, 1})};
  EXPECT_EQ(jepa_forward(e, e, p, images, mctx, mtgt, true).prediction.sizes(), (std::vector<std::int64_t>{4, 4, 8}));
  auto error = [&](const std::string& enc_fault, const std::string& pred_fault) {
    enc->fault = enc_fault;
    pred->fault = pred_fault;
    try {
      (void)jepa_forward(e, e, p, images, mctx, mtgt, true);
    } catch (const PluginError& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("wide", ""), "plugin org.example.enc: encoder/fake: encode(images) (the target encoder, all "
                               "patches) returned shape [2, 16, 9], not [2, 16, 8] [B, N, D]");
  EXPECT_EQ(error("extra_token", ""), "plugin org.example.enc: encoder/fake: encode(images) (the target encoder, all "
                                      "patches) returned shape [2, 17, 8], not [2, 16, 8] [B, N, D]");
  EXPECT_EQ(error("f64", ""), "plugin org.example.enc: encoder/fake: encode(images) (the target encoder, all "
                              "patches) returned Double tokens, not float32 (or bf16/float16 under autocast, which "
                              "is off here)");
  EXPECT_EQ(error("bf16", ""), "plugin org.example.enc: encoder/fake: encode(images) (the target encoder, all "
                               "patches) returned BFloat16 tokens, not float32 (or bf16/float16 under autocast, which "
                               "is off here)");
  at::autocast::set_autocast_enabled(at::kCPU, true);  // under autocast (cpu_bf16, or bf16 on CUDA) bf16 is fine
  EXPECT_EQ(error("bf16", ""), "no error");
  at::autocast::set_autocast_enabled(at::kCPU, false);
  EXPECT_EQ(error("", "one_row"), "plugin org.example.pred: predictor/fake: predict() returned shape [1, 4, 8], not "
                                  "[4, 4, 8] [npred*nenc*B, K_pred, D_out]");
  EXPECT_EQ(error("", "detached"), "plugin org.example.pred: predictor/fake: predict() returned a prediction cut off "
                                   "from autograd (made under no_grad, or through detach()): nothing would learn");
  EXPECT_EQ(error("", ""), "no error");
}
