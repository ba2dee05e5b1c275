// The named stages of run_training (host/include/ijepa/host/run/run_stages.hpp), each on its own.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "host/run/test_util.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/run/run_dir.hpp"
#include "ijepa/host/run/run_stages.hpp"
#include "ijepa/host/run/training_data.hpp"
#include "ijepa/host/util/sdpa.hpp"

namespace fs = std::filesystem;
using namespace ijepa::host;

namespace {

nlohmann::json train_section() {
  nlohmann::json t = train_defaults();
  t["epochs"] = 3;
  t["log_every"] = 4;
  return t;
}

at::Tensor loss(double v) { return at::full({}, v, at::kDouble); }

}  // namespace

TEST(StepPlan, EndsAtEpochsTimesStepsOrMaxSteps) {
  nlohmann::json t = train_section();
  const StepPlan p = make_step_plan(t, 10, 0);
  EXPECT_EQ(p.end, 30);
  EXPECT_EQ(p.epochs, 3);
  t["max_steps"] = 12;
  EXPECT_EQ(make_step_plan(t, 10, 5).end, 12);
  EXPECT_EQ(make_step_plan(t, 10, 5).start, 5);
  t["epochs"] = 2.5;
  t["max_steps"] = 0;
  EXPECT_EQ(make_step_plan(t, 10, 0).end, 25);
  EXPECT_EQ(make_step_plan(t, 10, 0).epochs, 3) << "a started epoch counts";
}

TEST(StepPlan, LogsSavesAndKeepsOnSchedule) {
  nlohmann::json t = train_section();
  t["keep_epoch_checkpoints"] = 2;
  const StepPlan p = make_step_plan(t, 10, 0);
  EXPECT_TRUE(p.log_due(4));
  EXPECT_FALSE(p.log_due(5));
  EXPECT_TRUE(p.log_due(30)) << "the last step always logs";
  EXPECT_TRUE(p.save_due(10)) << "checkpoint_every 0: at every epoch's end";
  EXPECT_FALSE(p.save_due(11));
  EXPECT_FALSE(p.keep_epoch_copy(10));
  EXPECT_TRUE(p.keep_epoch_copy(20));
  t["checkpoint_every"] = 7;
  const StepPlan q = make_step_plan(t, 10, 0);
  EXPECT_TRUE(q.save_due(14));
  EXPECT_FALSE(q.save_due(10)) << "not at an epoch end when checkpoint_every is set";
  EXPECT_TRUE(q.save_due(20)) << "but a kept epoch copy is a save";
}

TEST(StepPlan, EvaluatorsAreDueByStepEpochAndEnd) {
  const StepPlan p = make_step_plan(train_section(), 10, 0);
  EvaluatorSpec by_steps, by_epochs, at_end;
  by_steps.every_steps = 6;
  by_steps.at_end = false;
  by_epochs.every_epochs = 2;
  by_epochs.at_end = false;
  at_end.at_end = true;
  const std::vector<EvaluatorSpec> specs{by_steps, by_epochs, at_end};
  EXPECT_EQ(p.evals_due(specs, 12), (std::vector<std::size_t>{0}));
  EXPECT_EQ(p.evals_due(specs, 20), (std::vector<std::size_t>{1}));
  EXPECT_EQ(p.evals_due(specs, 30), (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(p.evals_due(specs, 7).empty());
}

TEST(LossWindow, MeansTheLastWindowAndStopsOnANonFiniteLoss) {
  LossWindow w(2);
  w.push(0, 0.1, loss(1.0), {});
  w.push(1, 0.1, loss(2.0), {});
  w.push(2, 0.1, loss(4.0), {});
  w.flush();
  EXPECT_DOUBLE_EQ(w.last(), 4.0);
  EXPECT_DOUBLE_EQ(w.mean(), 3.0) << "only the last log_every losses";
  EXPECT_FALSE(w.stop_seen());
  w.push(3, 0.25, loss(5.0), {});
  w.push(4, 0.25, loss(std::numeric_limits<double>::quiet_NaN()), {});
  try {
    w.flush();
    FAIL() << "a NaN loss must stop training";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("at step 5"), std::string::npos) << e.what();
  }
  EXPECT_EQ(w.failed_step(), 5);
}

// The final loss is the mean of the last 10 losses whatever the log window; recent() keeps what both means need
// (max(log_every, 10) losses) and restore() puts them back, trimmed, as a resume does.
TEST(LossWindow, FinalMeanOverTenStepsAndRestore) {
  LossWindow w(3);
  for (int i = 1; i <= 12; ++i) w.push(i - 1, 0.1, loss(i), {});
  w.flush();
  EXPECT_DOUBLE_EQ(w.mean(), (10.0 + 11.0 + 12.0) / 3.0);
  EXPECT_EQ(w.mean_count(), 3);
  EXPECT_DOUBLE_EQ(w.final_mean(), 7.5);  // 3..12
  EXPECT_EQ(w.final_count(), 10);
  const std::vector<double> kept = w.recent();
  ASSERT_EQ(kept.size(), 10u);
  EXPECT_DOUBLE_EQ(kept.front(), 3.0);
  LossWindow resumed(3);
  resumed.restore(kept);
  EXPECT_DOUBLE_EQ(resumed.mean(), w.mean());
  EXPECT_DOUBLE_EQ(resumed.final_mean(), w.final_mean());
  EXPECT_DOUBLE_EQ(resumed.last(), 12.0);
  LossWindow longer(20);  // a longer log window keeps 20
  longer.restore(std::vector<double>(25, 1.0));
  EXPECT_EQ(longer.recent().size(), 20u);
  LossWindow shorter(2);
  shorter.restore(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  EXPECT_EQ(shorter.recent().size(), 10u) << "max(log_every, 10)";
  EXPECT_DOUBLE_EQ(shorter.mean(), 11.5);
  LossWindow few(10);
  few.push(0, 0.1, loss(2.0), {});
  few.flush();
  EXPECT_EQ(few.final_count(), 1);
  EXPECT_DOUBLE_EQ(few.final_mean(), 2.0);
}

TEST(LossWindow, ReadsTheAgreedStopWish) {
  LossWindow w(10);
  w.push(0, 0.1, loss(1.0), at::full({}, 0.0, at::kDouble));
  w.flush();
  EXPECT_FALSE(w.stop_seen());
  w.push(1, 0.1, loss(1.0), at::full({}, 1.0, at::kDouble));
  w.flush();
  EXPECT_TRUE(w.stop_seen());
}

TEST(ProgressLog, EtaText) {
  EXPECT_EQ(eta_text(3725.0), "1:02:05");
  EXPECT_EQ(eta_text(-1.0), "?");
  EXPECT_EQ(eta_text(std::nan("")), "?");
}

TEST(RunTarget, OnlyRunShapeNeutralKeysMayChangeOnResume) {
  EXPECT_TRUE(is_incidental_key("train.max_steps"));
  EXPECT_TRUE(is_incidental_key("data.workers"));
  EXPECT_FALSE(is_incidental_key("train.lr"));
}

TEST(RunTarget, AFreshRunNeverOverwritesADirectory) {
  const fs::path dir = ijepa::test::temp_dir("run_target");
  ijepa::test::write_text(dir / "keep.txt", "x");
  TrainOptions opts;
  opts.out = dir;
  const nlohmann::json cfg = experiment_defaults();
  try {
    (void)check_run_target(cfg, ijepa::test::builtin_plugins().registry(), opts, 1, true);
    FAIL() << "an existing, non-empty --out must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
  }
  opts.resume = true;
  EXPECT_THROW((void)check_run_target(cfg, ijepa::test::builtin_plugins().registry(), opts, 1, true), ConfigError)
      << "--resume needs config.resolved.json";
  EXPECT_TRUE(fs::exists(dir / "keep.txt"));
  fs::remove_all(dir);
}

TEST(TrainingData, OwnsTheMaskerAndCountsStepsLikeTheLoader) {
  nlohmann::json exp = ijepa::test::tiny_experiment();
  const auto& reg = ijepa::test::builtin_plugins().registry();
  const nlohmann::json resolved = resolve_experiment(ijepa::test::layered(exp), {}, reg, "test");
  TrainingData data(resolved, reg, 0, 1, false);
  EXPECT_EQ(data.masker().type, "masker/multiblock");
  const std::int64_t want = Loader::steps_for(data.dataset().size(), data.options());
  EXPECT_EQ(data.steps_per_epoch(), want);
  Loader& loader = data.start(0);
  EXPECT_EQ(loader.steps_per_epoch(), want);
  const Batch b = loader.next();
  EXPECT_FALSE(b.masks.context.empty());
  data.stop();
  EXPECT_EQ(data.loader(), nullptr);
}

TEST(TrainingData, ARankShareSmallerThanABatchIsAConfigError) {
  nlohmann::json exp = ijepa::test::tiny_experiment();
  exp["train"]["batch_size"] = 100000;
  const auto& reg = ijepa::test::builtin_plugins().registry();
  const nlohmann::json resolved = resolve_experiment(ijepa::test::layered(exp), {}, reg, "test");
  try {
    TrainingData data(resolved, reg, 0, 2, false);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.batch_size (100000) x 2 ranks"), std::string::npos) << e.what();
  }
}

// ---- what a resume cleans up and catches up on (hostile-input issue, items 10 and 13) -----------------------

namespace {

std::vector<nlohmann::json> jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST(Resume, LeftoverTemporaryFilesAndStaleStartsAreRemoved) {
  const fs::path dir = ijepa::test::temp_dir("leftovers");
  nlohmann::json exp = ijepa::test::tiny_experiment();
  exp["train"]["max_steps"] = 4;
  ijepa::test::write_text(dir / "e.json", exp.dump());
  fs::create_directories(dir / "r.tmp-999999999" / "checkpoints");  // a start killed before its rename
  ijepa::test::write_text(dir / "r.tmp-999999999" / ".ijepa-partial", ijepa::host::partial_marker_text(999999999));
  // A marker of another pid than the name's (moved with a folder) is not a leftover.
  fs::create_directories(dir / "r.tmp-999999997");
  ijepa::test::write_text(dir / "r.tmp-999999997" / ".ijepa-partial", ijepa::host::partial_marker_text(5));
  // Named like one, but not made by the workbench (no marker), or not exactly <run>.tmp-<pid>: left alone (an
  // exercise lost a folder of notes and a sweep trial named "a.tmp-99999" this way).
  fs::create_directories(dir / "r.tmp-999999998");
  ijepa::test::write_text(dir / "r.tmp-999999998" / "notes.txt", "mine");
  ijepa::test::write_text(dir / "r.tmp-12345-notes.txt", "mine");
  std::string out;
  // "--out DIR/": the run directory DIR (it used to make DIR and fail with "it exists now").
  ASSERT_EQ(ijepa::test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + "/ --quiet",
                                 &out), 0) << out;
  EXPECT_FALSE(fs::exists(dir / "r.tmp-999999999")) << "a dead process's half-made run directory";
  EXPECT_EQ(ijepa::test::read_text(dir / "r.tmp-999999998" / "notes.txt"), "mine");
  EXPECT_EQ(ijepa::test::read_text(dir / "r.tmp-12345-notes.txt"), "mine");
  EXPECT_TRUE(fs::exists(dir / "r.tmp-999999997"));
  EXPECT_FALSE(fs::exists(dir / "r" / ".ijepa-partial")) << "a run in place is not a partial one";
  EXPECT_TRUE(fs::exists(dir / "r" / "status.json"));
  // What a kill -9 inside a write leaves behind.
  ijepa::test::write_text(dir / "r" / ".status.json.tmp.999999999", "{");
  ijepa::test::write_text(dir / "r" / "checkpoints" / ".step_00000006.safetensors.tmp.999999999", "partial");
  ijepa::test::write_text(dir / "r" / "checkpoints" / "step_00000006.trainer.safetensors", "renamed, disk full");
  ASSERT_EQ(ijepa::test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r").string() +
                                     " --resume --quiet", &out), 0) << out;
  EXPECT_FALSE(fs::exists(dir / "r" / ".status.json.tmp.999999999"));
  EXPECT_FALSE(fs::exists(dir / "r" / "checkpoints" / ".step_00000006.safetensors.tmp.999999999"));
  EXPECT_FALSE(fs::exists(dir / "r" / "checkpoints" / "step_00000006.trainer.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "r" / "checkpoints" / "step_00000004.safetensors"));
  fs::remove_all(dir);
}

TEST(Resume, AnEvaluationDueAtTheCheckpointButNotRecordedRunsOnResume) {
  const fs::path dir = ijepa::test::temp_dir("catch_up");
  nlohmann::json exp = ijepa::test::tiny_experiment();
  exp["train"]["max_steps"] = 4;
  exp["data"]["synthetic_classes"] = 4;
  exp["components"]["evaluators"] = nlohmann::json::array(
      {{{"type", "knn"}, {"every_steps", 4}, {"at_end", false}, {"train_limit", 64}, {"test_limit", 32}}});
  ijepa::test::write_text(dir / "e.json", exp.dump());
  const std::string base = "train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet";
  std::string out;
  ASSERT_EQ(ijepa::test::run_cli(base, &out), 0) << out;
  const auto before = jsonl(dir / "r" / "eval.jsonl");
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0]["step"], 4);
  // Killed between the step-4 checkpoint and its evaluation: the record is missing.
  fs::remove(dir / "r" / "eval.jsonl");
  ASSERT_EQ(ijepa::test::run_cli(base + " --resume", &out), 0) << out;
  const auto after = jsonl(dir / "r" / "eval.jsonl");
  ASSERT_EQ(after.size(), 1u) << "the evaluation due at step 4 ran on resume, once";
  EXPECT_EQ(after[0]["step"], 4);
  EXPECT_EQ(after[0]["top1"], before[0]["top1"]) << "on the same weights";
  // A second resume finds it recorded and does not run it again.
  ASSERT_EQ(ijepa::test::run_cli(base + " --resume", &out), 0) << out;
  EXPECT_EQ(jsonl(dir / "r" / "eval.jsonl").size(), 1u);
  fs::remove_all(dir);
}

// Item 15: two runs racing for one --out: the loser says what happened, not "Success", and the winner's run is intact.
TEST(RunDirRace, TheLoserSaysTheDirectoryExistsNow) {
  const fs::path dir = ijepa::test::temp_dir("race");
  fs::create_directories(dir / "r");
  ijepa::test::write_text(dir / "r" / "status.json", "{\"state\": \"running\"}");
  try {
    (void)RunDir::create_fresh(dir / "r", {{"config.resolved.json", "{}\n"}});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create the run directory: it exists now"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(ijepa::test::read_text(dir / "r" / "status.json"), "{\"state\": \"running\"}");
  EXPECT_FALSE(fs::exists(dir / ("r.tmp-" + std::to_string(::getpid()))));
  fs::remove_all(dir);
}

// A folder with this process's own <run>.tmp-<pid> name: an earlier process's leftover with the same pid (its mark
// names this pid and host) is cleared; anything else there is refused, never removed.
TEST(RunDirRace, AFolderWithThisPidsNameIsClearedOnlyWhenItIsThisHostsLeftover) {
  const fs::path dir = ijepa::test::temp_dir("own_pid");
  const fs::path tmp = dir / ("r.tmp-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  ijepa::test::write_text(tmp / ".ijepa-partial", partial_marker_text(::getpid()));
  ijepa::test::write_text(tmp / "half.txt", "left by an earlier process with this pid");
  (void)RunDir::create_fresh(dir / "r", {{"config.resolved.json", "{}\n"}});
  EXPECT_TRUE(fs::exists(dir / "r" / "config.resolved.json"));
  EXPECT_FALSE(fs::exists(dir / "r" / "half.txt"));
  EXPECT_FALSE(fs::exists(dir / "r" / ".ijepa-partial"));
  const fs::path tmp2 = dir / ("s.tmp-" + std::to_string(::getpid()));
  fs::create_directories(tmp2);
  ijepa::test::write_text(tmp2 / "notes.txt", "mine");
  try {
    (void)RunDir::create_fresh(dir / "s", {{"config.resolved.json", "{}\n"}});
    ADD_FAILURE() << "created over a folder that is not a leftover";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exists and is not a leftover of this host's ijepa; move it away"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(ijepa::test::read_text(tmp2 / "notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(dir / "s"));
  fs::remove_all(dir);
}

// Issue #16, item 1: the CUDA attention backends are chosen explicitly (train.sdpa), not left to torch's preference
// for cuDNN attention on Hopper (a plan per sequence length). The switches are process-wide ATen state.
TEST(Sdpa, FusedTurnsCuDnnAttentionOffAndTorchAllowsIt) {
  EXPECT_NE(util::apply_sdpa_policy("fused").find("flash > efficient > math; cuDNN attention off"), std::string::npos)
      << util::sdpa_description();
  EXPECT_FALSE(at::globalContext().userEnabledCuDNNSDP());
  EXPECT_NE(util::apply_sdpa_policy("torch").find("cuDNN attention allowed"), std::string::npos);
  EXPECT_TRUE(at::globalContext().userEnabledCuDNNSDP());
  try {
    util::apply_sdpa_policy("cudnn");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "train.sdpa: expected fused or torch, got 'cudnn'");
  }
  // Building a model applies the run's choice (the default is fused).
  const auto& reg = ijepa::test::builtin_plugins().registry();
  const nlohmann::json resolved = resolve_experiment(ijepa::test::layered(ijepa::test::tiny_experiment()), {}, reg, "t");
  EXPECT_EQ(resolved["train"]["sdpa"], "fused");
  JepaModel m(resolved, reg);
  EXPECT_FALSE(at::globalContext().userEnabledCuDNNSDP());
}

// Issue #20, item 4: with train.accum_steps the schedules and steps count optimiser steps, the data advances per
// micro-batch: 64 images in micro-batches of 8 make 8 micro-batches and 4 optimiser steps per epoch.
TEST(TrainingData, AccumulationCountsOptimiserStepsAndAdvancesMicroBatches) {
  nlohmann::json exp = ijepa::test::tiny_experiment();
  exp["train"]["accum_steps"] = 2;
  const auto& reg = ijepa::test::builtin_plugins().registry();
  const nlohmann::json resolved = resolve_experiment(ijepa::test::layered(exp), {}, reg, "test");
  TrainingData data(resolved, reg, 0, 1, false);
  EXPECT_EQ(data.steps_per_epoch(), 4);
  EXPECT_EQ(data.images_per_step(), 16);
  EXPECT_EQ(data.micro_index(5), 8 + 2);  // epoch 1, step 1 of it
  data.start(3);
  const std::vector<Batch> b = data.next(3);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].step, 6);
  EXPECT_EQ(b[1].step, 7);
  data.stop();
  exp["train"]["accum_steps"] = 9;  // 9 micro-batches of 8 > 64 images
  try {
    TrainingData too_many(resolve_experiment(ijepa::test::layered(exp), {}, reg, "test"), reg, 0, 1, false);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.accum_steps (9) micro-batches"), std::string::npos) << e.what();
  }
  // End to end: the run takes epochs x 4 optimiser steps.
  const fs::path dir = ijepa::test::temp_dir("accum_run");
  exp["train"]["accum_steps"] = 2;
  exp["train"]["clip_grad"] = 1.0;
  ijepa::test::write_text(dir / "e.json", exp.dump());
  std::string out;
  ASSERT_EQ(ijepa::test::run_cli("train " + (dir / "e.json").string() + " --out " + (dir / "r").string() + " --quiet",
                                 &out), 0) << out;
  const nlohmann::json st = nlohmann::json::parse(ijepa::test::read_text(dir / "r" / "status.json"));
  EXPECT_EQ(st["steps_per_epoch"], 4);
  EXPECT_EQ(st["step"], 8);
  EXPECT_EQ(st["state"], "completed");
  fs::remove_all(dir);
}

// Hostile-input issue, item 15: the host defaults alone (32 px images, the official 16 px patches, min_keep 10) give
// a 2x2 grid the masker cannot fit; the error says which grid and from which keys.
TEST(TrainingData, AMaskerThatCannotFitTheGridNamesTheGridAndItsKeys) {
  const auto& reg = ijepa::test::builtin_plugins().registry();
  nlohmann::json layered = experiment_defaults();
  const nlohmann::json resolved = resolve_experiment(layered, {}, reg, "defaults");
  try {
    (void)make_rank_masker(resolved, reg, 0);
    FAIL() << "the official min_keep fitted a 2x2 grid";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("min_keep"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[patch grid 2x2 = data.image_size 32 / components.encoder.patch_size 16]"),
              std::string::npos)
        << e.what();
  }
}

// TensorBoard tags: metrics records under train/ (health.* under health/), evaluator records under eval/<label>/,
// with random_init/ and gain/ beside the trained figures; bookkeeping numbers are left out.
TEST(TensorBoard, TagsOfMetricsAndEvalRecords) {
  const nlohmann::json m = {{"step", 20},  {"epoch", 1},           {"split", "train"},
                            {"loss", 0.5}, {"health.rank_target", 3.0}, {"images_per_s", 100}};
  const ijepa::host::io::Scalars tm = train_scalars(m);
  const ijepa::host::io::Scalars want_m = {{"train/loss", 0.5}, {"health/rank_target", 3.0}, {"train/images_per_s", 100}};
  using Set = std::multiset<std::pair<std::string, double>>;
  EXPECT_EQ(Set(tm.begin(), tm.end()), Set(want_m.begin(), want_m.end()));
  const nlohmann::json e = {{"step", 20},   {"epoch", 1},       {"evaluator", "knn"}, {"where", "components.evaluators.0"},
                            {"train_n", 500}, {"test_n", 100},  {"seconds", 1.5},     {"top1", 40.0},
                            {"random_init", {{"top1", 30.0}}}, {"gain", {{"top1", 10.0}}}};
  const ijepa::host::io::Scalars te = eval_scalars(e, "knn");
  const ijepa::host::io::Scalars want_e = {{"eval/knn/top1", 40.0}, {"eval/knn/random_init/top1", 30.0},
                                           {"eval/knn/gain/top1", 10.0}};
  EXPECT_EQ(Set(te.begin(), te.end()), Set(want_e.begin(), want_e.end()));
}

// train.tensorboard: false writes no event file; the default writes one beside metrics.jsonl.
TEST(TensorBoard, RunDirWritesEventsUnlessDisabled) {
  const fs::path dir = ijepa::test::temp_dir("tb_rundir");
  RunDir on(dir / "on"), off(dir / "off");
  fs::create_directories(on.root());
  fs::create_directories(off.root());
  off.enable_events(false);
  on.scalars(1, {{"train/loss", 1.0}});
  off.scalars(1, {{"train/loss", 1.0}});
  auto count = [](const fs::path& d) {
    int n = 0;
    for (const auto& f : fs::directory_iterator(d)) n += f.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
    return n;
  };
  EXPECT_EQ(count(on.root()), 1);
  EXPECT_EQ(count(off.root()), 0);
  fs::remove_all(dir);
}
