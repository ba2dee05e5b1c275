// Trial states (host/src/run/sweep_dir) and summary tables (host/src/run/sweep_report) from hand-made sweep
// directories: no training, so every state and number is known exactly.
#include <gtest/gtest.h>

#include <sys/file.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <array>
#include <cmath>

#include "ijepa/host/config/json_file.hpp"
#include "host/hosting/fixture_plugins.hpp"
#include "ijepa/host/run/sweep_dir.hpp"
#include "ijepa/host/run/sweep_report.hpp"
#include "ijepa/host/util/errors.hpp"
#include "ijepa/host/util/stats.hpp"

using namespace ijepa;
using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

nlohmann::json sweep_with(const std::vector<nlohmann::json>& trials) {
  return {{"format", "ijepa-sweep"}, {"version", 1},       {"name", "demo"},
          {"source", "demo.json"},   {"axis_keys", {"train.lr"}}, {"trials", trials}};
}

// Completed trials "<masker>_s<seed>" for each masker and seeds 0-2, with k-NN (random init 30 + seed, k 20, and
// `knn_extra`'s fields) and linear-probe (random init 40) top-1s from the tables; writes sweep.json (axes masker,
// seed) and returns its trials.
std::vector<nlohmann::json> write_masker_trials(const fs::path& d, const std::vector<std::string>& maskers,
                                                const std::vector<std::array<double, 3>>& knn,
                                                const std::vector<std::array<double, 3>>& lin,
                                                const nlohmann::json& knn_extra = nlohmann::json::object()) {
  std::vector<nlohmann::json> trials;
  int index = 0;
  for (std::size_t m = 0; m < maskers.size(); ++m) {
    for (int seed = 0; seed < 3; ++seed) {
      const std::string name = maskers[m] + "_s" + std::to_string(seed);
      trials.push_back({{"index", index++}, {"name", name}, {"values", {{"masker", maskers[m]}, {"seed", seed}}},
                        {"seed", seed}});
      write(d / "trials" / name / "status.json",
            R"({"state": "completed", "step": 4, "total_steps": 4, "final_loss": 0.5, "seconds": 2.0})");
      nlohmann::json ek = {{"step", 4}, {"evaluator", "knn"}, {"where", "components.evaluators.0"},
                           {"top1", knn[m][static_cast<std::size_t>(seed)]}, {"k", 20}, {"test_n", 2000},
                           {"random_init", {{"top1", 30.0 + seed}, {"k", 20}}}};
      ek.update(knn_extra);
      const nlohmann::json el = {{"step", 4}, {"evaluator", "linear_probe"}, {"where", "components.evaluators.1"},
                                 {"top1", lin[m][static_cast<std::size_t>(seed)]}, {"test_n", 2000.0},
                                 {"random_init", {{"top1", 40.0}}}};
      write(d / "trials" / name / "eval.jsonl", ek.dump() + "\n" + el.dump() + "\n");
    }
  }
  nlohmann::json sw = sweep_with(trials);
  sw["axis_keys"] = {"masker", "seed"};
  write(d / "sweep.json", sw.dump(2));
  return trials;
}

// A CSV cell as the report writes one with commas or quotes in it.
std::string csv_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<nlohmann::json> read_jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// A held flock on a file, as a running `ijepa train` holds its run's .lock.
struct HeldLock {
  int fd;
  explicit HeldLock(const fs::path& p) : fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  }
  ~HeldLock() { ::close(fd); }
};

}  // namespace

TEST(SweepReport, MeanAndSampleStd) {
  const MeanStd a = mean_std({1.0, 2.0, 3.0});
  EXPECT_DOUBLE_EQ(a.mean, 2.0);
  EXPECT_DOUBLE_EQ(a.std, 1.0) << "sample std (n - 1)";
  const MeanStd b = mean_std({5.0});
  EXPECT_DOUBLE_EQ(b.mean, 5.0);
  EXPECT_TRUE(std::isnan(b.std));
  EXPECT_TRUE(std::isnan(mean_std({}).mean));
}

TEST(SweepReport, LockHolderReadsProcLocks) {
  test::TempDir tmp;
  const fs::path f = tmp / "x.lock";
  EXPECT_FALSE(lock_holder(f).has_value()) << "no file";
  write(f, "");
  EXPECT_FALSE(lock_holder(f).has_value()) << "not locked";
  {
    HeldLock l(f);
    ASSERT_TRUE(lock_holder(f).has_value());
    EXPECT_EQ(*lock_holder(f), static_cast<long>(::getpid()));
  }
  EXPECT_FALSE(lock_holder(f).has_value()) << "released";
}

TEST(SweepReport, TrialStatesFromFiles) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  auto state = [&](const std::string& n) { return inspect_trial(d, n); };
  EXPECT_EQ(state("none").state, "pending");
  // Completed / interrupted / failed as status.json says.
  write(d / "trials/c/status.json", R"({"state": "completed", "final_loss": 0.5})");
  EXPECT_EQ(state("c").state, "completed");
  write(d / "trials/i/status.json", R"({"state": "interrupted"})");
  write(d / "trials/i/checkpoints/LATEST", "step_00000004\n");
  EXPECT_EQ(state("i").state, "interrupted");
  EXPECT_TRUE(state("i").has_checkpoint);
  write(d / "trials/f/status.json", R"({"state": "failed", "error": "non-finite loss"})");
  EXPECT_EQ(state("f").state, "failed");
  EXPECT_EQ(state("f").error, "non-finite loss");
  // "running" with a live lock holder is running; without one it was killed: interrupted, unless the sweep
  // recorded that its child crashed.
  write(d / "trials/r/status.json", R"({"state": "running"})");
  {
    HeldLock l(d / "trials/r/.lock");
    EXPECT_EQ(state("r").state, "running");
    EXPECT_EQ(state("r").pid, static_cast<long>(::getpid()));
  }
  EXPECT_EQ(state("r").state, "interrupted");
  write(d / "trials/r.proc.json", R"J({"state": "failed", "signal": 6, "error": "killed by signal SIGABRT (Aborted)"})J");
  EXPECT_EQ(state("r").state, "failed");
  EXPECT_EQ(state("r").error, "killed by signal SIGABRT (Aborted)");
  // No run directory: the sweep's record decides.
  write(d / "trials/early.proc.json", R"({"state": "failed", "exit_code": 1, "error": "ijepa train: error: bad"})");
  EXPECT_EQ(state("early").state, "failed");
  // A live process counts only if its command line names the trial's run directory (pids are reused).
  write(d / "trials/live.proc.json", "{\"state\": \"running\", \"pid\": " + std::to_string(::getpid()) + "}");
  EXPECT_EQ(state("live").state, "interrupted") << "this test process is not the trial's";
  const std::string run_dir = fs::weakly_canonical(d / "trials" / "live").string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // its own group (killed whole below), off the test's stdout (ctest waits for it to close)
    ::setpgid(0, 0);
    const int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(null_fd, STDERR_FILENO);
    ::execl("/bin/sh", "sh", "-c", "sleep 30", run_dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(child, child);
  write(d / "trials/live.proc.json", "{\"state\": \"running\", \"pid\": " + std::to_string(child) + "}");
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {  // until the exec has replaced the command line
    seen = state("live").state == "running";
    if (!seen) ::usleep(10000);
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(state("live").pid, static_cast<long>(child));
  ::kill(-child, SIGKILL);
  ::usleep(100000);
  EXPECT_EQ(state("live").state, "interrupted") << "a zombie is not alive";
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(state("live").state, "interrupted");
  write(d / "trials/dead.proc.json", R"({"state": "running", "pid": 999999999})");
  EXPECT_EQ(state("dead").state, "interrupted");
  EXPECT_FALSE(state("dead").run_dir);
}

TEST(SweepReport, SummaryRecordsTablesAndGroups) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  const std::vector<nlohmann::json> trials = {
      {{"index", 0}, {"name", "lr0.1_s0"}, {"values", {{"train.lr", 0.1}}}, {"seed", 0}},
      {{"index", 1}, {"name", "lr0.1_s1"}, {"values", {{"train.lr", 0.1}}}, {"seed", 1}},
      {{"index", 2}, {"name", "lr0.2_s0"}, {"values", {{"train.lr", 0.2}}}, {"seed", 0}},
      {{"index", 3}, {"name", "lr0.3_s0"}, {"values", {{"train.lr", 0.3}}}, {"seed", 0}}};
  write(d / "sweep.json", sweep_with(trials).dump(2));
  // Trial 0: completed, two evaluations of linear_probe (the last counts), one knn.
  write(d / "trials/lr0.1_s0/status.json",
        R"({"state": "completed", "step": 4, "total_steps": 4, "final_loss": 0.5, "seconds": 2.0, "images_per_s": 1.0})");
  write(d / "trials/lr0.1_s0/metrics.jsonl",
        "{\"step\":1,\"images_per_s\":100}\n{\"step\":2,\"images_per_s\":300}\n{\"step\":3,\"images_per_s\":200}\n"
        "{\"step\":4,\"images_");  // a line being written
  write(d / "trials/lr0.1_s0/eval.jsonl",
        R"({"step":2,"epoch":0,"evaluator":"linear_probe","where":"components.evaluators.0","top1":10.0,"random_init":{"top1":5.0},"gain":{"top1":5.0},"train_n":64,"test_n":32,"seconds":0.5})"
        "\n"
        R"({"step":4,"epoch":1,"evaluator":"linear_probe","where":"components.evaluators.0","top1":30.0,"random_init":{"top1":6.0,"train_n":64},"gain":{"top1":24.0},"train_n":64,"test_n":32,"seconds":0.5})"
        "\n"
        R"({"step":4,"epoch":1,"evaluator":"knn","where":"components.evaluators.1","top1":20.0,"features":"pooled"})"
        "\n");
  // Trial 1: completed in two sessions (seconds_total counts both).
  write(d / "trials/lr0.1_s1/status.json",
        R"({"state": "completed", "step": 4, "total_steps": 4, "final_loss": 0.7, "seconds": 1.0, "seconds_total": 4.0,
            "images_per_s": 50.0})");
  write(d / "trials/lr0.1_s1/eval.jsonl",
        R"({"step":4,"evaluator":"linear_probe","where":"components.evaluators.0","top1":40.0,"random_init":{"top1":8.0}})"
        "\n");
  // Trial 2: crashed (status left "running", the sweep recorded the signal).
  write(d / "trials/lr0.2_s0/status.json", R"({"state": "running", "step": 2, "total_steps": 4, "loss": 0.9})");
  write(d / "trials/lr0.2_s0.proc.json", R"({"state": "failed", "error": "killed by signal SIGABRT, \"core\""})");
  // Trial 3: never started.

  const SweepSummaryText text = write_sweep_summary(d);
  for (const char* f : {"summary.jsonl", "summary.md", "summary.csv", "summary_grouped.csv"}) {
    EXPECT_TRUE(fs::exists(d / f)) << f;
  }
  EXPECT_EQ(test::read_text(d / "summary.md"), text.md);
  const auto recs = read_jsonl(text.jsonl);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0]["name"], "lr0.1_s0");
  EXPECT_EQ(recs[0]["state"], "completed");
  EXPECT_EQ(recs[0]["final_loss"], 0.5);
  EXPECT_EQ(recs[0]["seconds"], 2.0);
  EXPECT_EQ(recs[0]["images_per_s"], 200.0) << "median of metrics.jsonl's windows";
  EXPECT_EQ(recs[0]["metrics"], nlohmann::json::parse(R"({"linear_probe.top1": 30.0,
      "linear_probe.random_init.top1": 6.0, "knn.top1": 20.0})"));
  EXPECT_EQ(recs[0]["values"], nlohmann::json({{"train.lr", 0.1}}));
  EXPECT_TRUE(recs[0]["error"].is_null());
  EXPECT_EQ(recs[1]["images_per_s"], 50.0) << "status.json's without metrics.jsonl";
  EXPECT_EQ(recs[1]["seconds"], 4.0) << "every session's time";
  EXPECT_EQ(recs[2]["state"], "failed");
  EXPECT_EQ(recs[2]["error"], "killed by signal SIGABRT, \"core\"");
  EXPECT_EQ(recs[2]["final_loss"], 0.9) << "the latest logged loss of an unfinished trial";
  EXPECT_EQ(recs[3]["state"], "pending");
  EXPECT_TRUE(recs[3]["final_loss"].is_null());

  EXPECT_EQ(recs[0]["test_n"], nlohmann::json({{"linear_probe", 32}}));
  EXPECT_EQ(recs[0]["bootstrap"], nlohmann::json::parse(R"({"linear_probe.top1": [15.625, 46.875],
      "linear_probe.random_init.top1": [0.0, 15.625]})"))
      << "Binomial(32, 0.3) 2.5 % and 97.5 % quantiles: 5 and 15 of 32; Binomial(32, 0.06): 0 and 5";

  // Markdown: trial rows (the random-init column gives way to the gain; an accuracy with a test-set size carries its
  // bootstrap half-width), then groups over seeds with mean ± the t interval's half-width ("(1)" for one trial, —
  // without any completed), numbers rounded to their uncertainty.
  EXPECT_NE(text.md.find("4 trials: 2 completed, 1 failed, 1 pending"), std::string::npos) << text.md;
  EXPECT_NE(text.md.find("| # | trial | lr | seed | state | step | final loss | knn.top1 | linear_probe.top1 | "
                         "linear_probe.top1 gain | s | img/s | error |"),
            std::string::npos)
      << text.md;
  // The gain's half-width: sqrt(16.875² + 9.625²) = 19.4 (both intervals as if independent).
  EXPECT_NE(text.md.find("| 0 | lr0.1_s0 | 0.1 | 0 | completed | 4/4 | 0.5 | 20 | 30 ± 17 | 24 ± 19 | 2 | 200 |  |"),
            std::string::npos)
      << text.md;
  // The random-init encoder's figures, per group (one group has any).
  EXPECT_NE(text.md.find("| group | seeds | linear_probe.top1 |\n|---|---|---|\n| lr=0.1 | 2 | 7 ± 13 |\n"
                         "| lr=0.2 | 0 | — |\n"),
            std::string::npos)
      << text.md;
  // final loss 0.5, 0.7: sd 0.1414, t(1) 12.706 -> ±1.27; linear_probe 30, 40 -> ±63.5; gains 24, 32 -> ±50.8.
  EXPECT_NE(text.md.find("| 0.1 | 0 1 | 2/2 | 0.6 ± 1.3 | 20 (1) | 35 ± 64 | 28 ± 51 | 3 ± 13 | 130 ± 950 |"),
            std::string::npos)
      << text.md;
  EXPECT_NE(text.md.find("| linear_probe.top1 | 32 | 17 |"), std::string::npos) << "test-set resolution\n" << text.md;
  EXPECT_NE(text.md.find("| 0.2 | 0 | 0/1 | — | — | — | — | — | — |"), std::string::npos) << text.md;
  // CSV: one header and one row per trial, RFC 4180 quoting, full precision.
  const std::string csv = text.csv;
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "index,name,train.lr,seed,state,step,total_steps,final_loss,knn.top1,linear_probe.random_init.top1,"
            "linear_probe.top1,seconds,images_per_s,error");
  EXPECT_NE(csv.find("2,lr0.2_s0,0.2,0,failed,2,4,0.9,,,,,,\"killed by signal SIGABRT, \"\"core\"\"\"\n"),
            std::string::npos)
      << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  const std::string g = text.grouped_csv;
  EXPECT_NE(g.find("0.1,0 1,2,2,0.6,0.1414213562"), std::string::npos) << g;
  EXPECT_NE(g.find("0.3,0,0,1,,,,0,"), std::string::npos) << g;
  EXPECT_NE(g.find(",knn.top1_mean,knn.top1_std,knn.top1_ci95,knn.top1_n,"), std::string::npos) << g;
  // lr 0.1's two completed trials: both have the linear probe, one has k-NN (mean 20, no spread, n 1).
  EXPECT_NE(g.find(",20.0,,,1,"), std::string::npos) << g;
  EXPECT_NE(g.find(",35.0,7.0710678118654755,"), std::string::npos) << g;

  // Regenerating gives the same bytes.
  EXPECT_EQ(write_sweep_summary(d).md, text.md);
  EXPECT_EQ(test::read_text(d / "summary.csv"), csv);
}

TEST(SweepReport, AnUnreadableFinishedEvalLineIsNamedAndATornLastLineIsNot) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  const std::vector<nlohmann::json> trials = {
      {{"index", 0}, {"name", "a"}, {"values", {{"train.lr", 0.1}}}, {"seed", 0}},
      {{"index", 1}, {"name", "b"}, {"values", {{"train.lr", 0.2}}}, {"seed", 0}}};
  write(d / "sweep.json", sweep_with(trials).dump(2));
  const std::string early =
      R"({"step":2,"evaluator":"knn","where":"components.evaluators.0","top1":10.0,"random_init":{"top1":5.0}})";
  const std::string final_line =
      R"({"step":4,"evaluator":"knn","where":"components.evaluators.0","top1":30.0,"random_init":{"top1":6.0}})";
  for (const char* t : {"a", "b"}) {
    write(d / "trials" / t / "status.json",
          R"({"state": "completed", "step": 4, "total_steps": 4, "final_loss": 0.5, "seconds": 2.0})");
  }
  // a: the final record's line was damaged (a disk fault, an edit): the earlier record is all that is left.
  write(d / "trials/a/eval.jsonl", early + "\n" + final_line.substr(0, 40) + "\n");
  // b: a last line without its newline is one being written: skipped without a word.
  write(d / "trials/b/eval.jsonl", final_line + "\n" + early.substr(0, 30));
  const auto recs = read_jsonl(write_sweep_summary(d).jsonl);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["metrics"]["knn.top1"], 10.0);
  ASSERT_TRUE(recs[0]["error"].is_string());
  const std::string e = recs[0]["error"].get<std::string>();
  EXPECT_EQ(e.rfind("trials/a/eval.jsonl: line 2 is not a JSON object", 0), 0u) << e;
  EXPECT_NE(e.find("may be from an earlier record"), std::string::npos) << e;
  EXPECT_EQ(recs[1]["metrics"]["knn.top1"], 30.0);
  EXPECT_TRUE(recs[1]["error"].is_null()) << recs[1]["error"];
  EXPECT_NE(test::read_text(d / "summary.md").find("line 2 is not a JSON object"), std::string::npos);
}

TEST(SweepReport, IncompatibleSweepJsonIsRefused) {
  test::TempDir tmp;
  write(tmp / "sweep.json", R"({"format": "ijepa-sweep", "version": 2, "trials": []})");
  try {
    read_sweep_json(tmp.path());
    ADD_FAILURE() << "no error";
  } catch (const ConfigFileError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("sweep.json: format \"ijepa-sweep\" version 2"), std::string::npos) << w;
    EXPECT_EQ(w.find('\n'), std::string::npos);
  }
  write(tmp / "sweep.json", R"({"format": "other", "version": 1, "trials": []})");
  EXPECT_THROW(read_sweep_json(tmp.path()), ConfigFileError);
  fs::remove(tmp / "sweep.json");
  EXPECT_THROW(read_sweep_json(tmp.path()), ConfigFileError);
  EXPECT_THROW(write_sweep_summary(tmp.path()), ConfigFileError);
  EXPECT_FALSE(fs::exists(tmp / "summary.md"));
}

TEST(ReportStats, IntervalsAndRounding) {
  // Exact quantiles (scipy.stats.t.ppf(0.975, df)); a table rounded to 4.303 made the intervals 8e-5 too wide.
  EXPECT_NEAR(util::t975(1), 12.706204736174698, 1e-9);
  EXPECT_NEAR(util::t975(2), 4.302652729749464, 1e-10);
  EXPECT_NEAR(util::t975(4), 2.7764451051977934, 1e-10);
  EXPECT_NEAR(util::t975(60), 2.0002978220142578, 1e-10);
  EXPECT_NEAR(util::t975(1000), 1.9623390808264078, 1e-10);
  EXPECT_NEAR(util::t975(1000000), 1.959966, 1e-6);
  EXPECT_TRUE(std::isnan(util::t975(0)));
  // Two-sided p-values of Student's t: the 0.975 quantiles give 0.05; reference values (scipy.stats.t.sf * 2).
  EXPECT_NEAR(util::t_two_sided_p(12.706, 1), 0.05, 1e-4);
  EXPECT_NEAR(util::t_two_sided_p(-2.776, 4), 0.05, 1e-4);
  EXPECT_NEAR(util::t_two_sided_p(1.0, 10), 0.340893, 1e-5);
  EXPECT_NEAR(util::t_two_sided_p(3.0, 30), 0.005390, 1e-5);
  EXPECT_NEAR(util::t_two_sided_p(8.0, 2), 0.015268, 1e-5);
  EXPECT_DOUBLE_EQ(util::t_two_sided_p(0.0, 5), 1.0);
  EXPECT_TRUE(std::isnan(util::t_two_sided_p(1.0, 0.5)));
  // Paired test on differences: every pair equal -> 0 (or 1 for zeros); one pair -> NaN.
  // No spread over the pairs (two seeds tied, as finite test sets make likely): no test, never "separated".
  EXPECT_TRUE(std::isnan(util::paired_t_p(util::mean_ci({2.0, 2.0, 2.0}))));
  EXPECT_TRUE(std::isnan(util::paired_t_p(util::mean_ci({0.0, 0.0}))));
  EXPECT_FALSE(util::mean_ci({0.2, 0.2}).separated_from_zero());
  EXPECT_TRUE(util::mean_ci({0.2, 0.2}).no_spread());
  EXPECT_FALSE(util::mean_ci({0.2, 0.3}).no_spread());
  // Ties that floating point does not make bit-equal: one image of 1000 in every seed, as differences of accuracies.
  const util::MeanCi tie = util::mean_ci({40.1 - 39.9, 41.1 - 40.9, 0.1 + 0.1});
  EXPECT_TRUE(tie.no_spread()) << tie.sd;
  EXPECT_FALSE(tie.separated_from_zero());
  EXPECT_TRUE(std::isnan(util::paired_t_p(tie)));
  EXPECT_TRUE(util::mean_ci({0.1, 0.1, 0.1}).no_spread());
  // No spread is judged by the exact sign test: every pair on one side, p = 2 x 0.5^n; six pairs reach 0.05. (Five
  // points ahead on each of four seeds read as weaker than 2, 2, 2, 3; now both are said consistently.)
  EXPECT_DOUBLE_EQ(util::no_spread_sign_p(util::mean_ci({5, 5, 5, 5})), 0.125);
  EXPECT_EQ(util::paired_verdict(util::mean_ci({5, 5, 5, 5})), 0);
  EXPECT_DOUBLE_EQ(util::no_spread_sign_p(util::mean_ci({-1, -1, -1, -1, -1, -1})), 0.03125);
  EXPECT_EQ(util::paired_verdict(util::mean_ci({-1, -1, -1, -1, -1, -1})), -1);
  EXPECT_EQ(util::paired_verdict(util::mean_ci({2, 2, 2, 3})), 1);
  EXPECT_TRUE(std::isnan(util::no_spread_sign_p(util::mean_ci({0, 0, 0, 0, 0, 0, 0}))));
  EXPECT_EQ(util::paired_verdict(util::mean_ci({0, 0, 0, 0, 0, 0, 0})), 0);
  EXPECT_TRUE(std::isnan(util::no_spread_sign_p(util::mean_ci({1, 2}))));
  EXPECT_DOUBLE_EQ(util::paired_p(util::mean_ci({3, 3, 3, 3, 3, 3, 3})), 2.0 / 128.0);
  EXPECT_TRUE(std::isnan(util::paired_t_p(util::mean_ci({2.0}))));
  EXPECT_NEAR(util::paired_t_p(util::mean_ci({1.0, 0.3, 1.2, 0.9, 0.1})), 0.02999, 2e-4);
  // Holm: sorted 0.01, 0.02, 0.04 against 0.05/3, 0.05/2, 0.05/1 -> all three; 0.02, 0.03 against 0.025 -> none.
  EXPECT_EQ(util::holm_reject({0.04, 0.01, 0.02}), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(util::holm_reject({0.03, 0.03}), (std::vector<bool>{false, false}));
  EXPECT_EQ(util::holm_reject({0.001, 0.3, std::nan("")}), (std::vector<bool>{true, false, false}));
  const util::MeanCi c = util::mean_ci({10.0, 11.0, 12.0});  // sd 1, n 3: 4.303 / sqrt(3) = 2.48
  EXPECT_DOUBLE_EQ(c.mean, 11.0);
  EXPECT_NEAR(c.half, 4.302652729749464 / std::sqrt(3.0), 1e-10);
  EXPECT_TRUE(c.separated_from_zero());
  EXPECT_FALSE(util::mean_ci({1.0, 2.0, 3.0}).separated_from_zero()) << "2 ± 2.48 includes 0";
  EXPECT_TRUE(std::isnan(util::mean_ci({5.0}).half));
  // Exact Binomial quantiles (checked against a 4,000-resample Monte-Carlo bootstrap: 24.0 and 36.5 for 60 of 200).
  const util::Interval a = util::accuracy_bootstrap(30.0, 200);
  EXPECT_DOUBLE_EQ(a.lo, 24.0);
  EXPECT_DOUBLE_EQ(a.hi, 36.5);
  const util::Interval b = util::accuracy_bootstrap(50.0, 2000);
  EXPECT_DOUBLE_EQ(b.lo, 47.8);
  EXPECT_DOUBLE_EQ(b.hi, 52.2);
  EXPECT_DOUBLE_EQ(util::accuracy_bootstrap(100.0, 50).lo, 100.0);
  // A mean over 5 label samples with sd 2: t(4) 2.776 x 2 / sqrt(5) = 2.48, each side of the bootstrap's widened to
  // the root of the sum of squares; nothing to add for one sample or no sd; clamped to [0, 100].
  const double h = util::sample_half(2.0, 5);
  EXPECT_NEAR(h, 2.7764451051977987 * 2.0 / std::sqrt(5.0), 1e-9);
  EXPECT_EQ(util::sample_half(2.0, 1), 0.0);
  EXPECT_EQ(util::sample_half(std::nan(""), 5), 0.0);
  const util::Interval w = util::widen(b, 50.0, h);
  EXPECT_NEAR(w.lo, 50.0 - std::hypot(2.2, h), 1e-9);
  EXPECT_NEAR(w.hi, 50.0 + std::hypot(2.2, h), 1e-9);
  EXPECT_EQ(util::widen(b, 50.0, 0.0).lo, b.lo);
  EXPECT_EQ(util::widen(util::accuracy_bootstrap(99.0, 2000), 99.0, 5.0).hi, 100.0);
  // t quantiles (tables: t_0.8 is 1.0607 at 2 df, 0.8791 at 10; t_0.975 2.7764 at 4).
  EXPECT_NEAR(util::t_quantile(0.8, 2), 1.0606601717798212, 1e-9);
  EXPECT_NEAR(util::t_quantile(0.8, 10), 0.8790578285113779, 1e-6);
  EXPECT_NEAR(util::t_quantile(0.975, 4), util::t975(4), 1e-9);
  EXPECT_NEAR(util::t_quantile(0.999, 1), 318.30883898555, 1e-4) << "far in the tail of one df";
  EXPECT_TRUE(std::isnan(util::t_quantile(0.5, 3)));
  EXPECT_TRUE(std::isnan(util::t_quantile(0.9, 0)));
  // Pairs for 80 % power at a standardised difference of 0.5 and 1: 34 and 10, the figures of power tables for a
  // two-sided one-sample t test at 5 % (e.g. G*Power); a difference near 0 needs more than the cap; nothing is said
  // of one pair or of pairs without spread.
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({-1.0, 1.0, 3.0})), 34);  // mean 1, sd 2
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({0.0, 2.0, 4.0})), 10);   // mean 2, sd 2
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({0.0, 2.0, 4.0}), 0.8, 5), 6) << "above the cap: cap + 1";
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({-1.0, 1.0, 0.01})), 1001);
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({2.0, 2.0, 2.0})), 0);
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({2.0})), 0);
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({0.0, 2.0, 4.0}), 0.5), 0) << "power outside (0.5, 1)";
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({-1.0, 1.0})), 0) << "mean 0";
  EXPECT_EQ(util::pairs_for_power(util::mean_ci({10.0, 11.0, 12.0})), 2) << "already separated: the fewest pairs";
  EXPECT_EQ(util::round_to_uncertainty(0.3124, 0.004912), "0.3124 ± 0.0049");
  EXPECT_EQ(util::round_to_uncertainty(59.7, 2.04), "59.7 ± 2.0");
  EXPECT_EQ(util::round_to_uncertainty(125.0, 952.95), "130 ± 950");
  EXPECT_EQ(util::round_to_uncertainty(-0.01, 0.5), "-0.01 ± 0.50");
  EXPECT_EQ(util::round_to_uncertainty(3.14159, std::nan("")), "3.142");
}

// Two maskers x three seeds: knn separates them (the same +5 every seed), the linear probe does not (its
// differences change sign); knn.k is the same everywhere and leaves the tables.
// The paired table compares accuracies and gains, not a probe's chosen settings; and no final loss of groups whose
// components differ (another masker changes what the loss measures: "+0.008 above" read as a result).
TEST(SweepReport, PairedDifferencesLeaveOutSettingsAndIncomparableLosses) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  write_masker_trials(d, {"multiblock", "block"}, {{40, 42, 41}, {35, 37, 37}}, {{50, 45, 52}, {48, 49, 47}});
  for (const std::string m : {"multiblock", "block"}) {  // a setting that varies, as the linear probe's chosen l2
    for (int seed = 0; seed < 3; ++seed) {
      const fs::path f = d / "trials" / (m + "_s" + std::to_string(seed)) / "eval.jsonl";
      std::string text = test::read_text(f);
      text.replace(text.find("\"step\":4"), 8, "\"l2\":" + std::to_string(seed + 1) + ",\"step\":4");  // knn's line
      write(f, text);
    }
  }
  nlohmann::json sw = load_json_file(d / "sweep.json");
  ReportOptions o;
  o.reference = "masker=block";
  const std::string same = write_sweep_summary(d, o).md;
  EXPECT_NE(same.find("| knn.l2 |"), std::string::npos) << "the trials' table shows it\n" << same;
  const std::string paired = same.substr(same.find("## Paired differences"));
  EXPECT_EQ(paired.find("knn.l2"), std::string::npos) << paired;
  // The final losses are equal in every seed: no spread, so no verdict (an interval of width 0 is no evidence).
  EXPECT_NE(paired.find("| masker=multiblock | 3 | +0 (no spread over seeds: undecided) |"), std::string::npos)
      << paired;
  // The same groups told apart by a component's key: their losses are not compared.
  sw["axis_keys"] = {"components.masker.type", "seed"};
  for (auto& t : sw["trials"]) {
    t["values"] = {{"components.masker.type", t["values"]["masker"]}, {"seed", t["values"]["seed"]}};
  }
  write(d / "sweep.json", sw.dump(2));
  ReportOptions oc;
  oc.reference = "type=block";
  const std::string other = write_sweep_summary(d, oc).md;
  const std::string paired2 = other.substr(other.find("## Paired differences"));
  EXPECT_NE(paired2.find("| 3 | not comparable | +4.7 ± 1.4 above |"), std::string::npos) << paired2;
}

// A probe's figure that is a mean over label samples (low_shot with samples >= 2: sd_<metric> and samples beside it)
// carries the samples' spread in its interval as well as the test images'; the test-set resolution stays the
// bootstrap's (it is about the test images).
TEST(SweepReport, AMeanOverLabelSamplesCarriesTheirSpread) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  write_masker_trials(d, {"multiblock"}, {{40, 42, 41}}, {{50, 45, 52}}, {{"sd_top1", 2.0}, {"samples", 5}});
  const SweepSummaryText s = write_sweep_summary(d);
  const auto recs = read_jsonl(test::read_text(d / "summary.jsonl"));
  ASSERT_EQ(recs.size(), 3u);
  const double h = util::sample_half(2.0, 5);
  EXPECT_NEAR(recs[0]["sample_half"]["knn.top1"].get<double>(), h, 1e-12) << recs[0].dump();
  EXPECT_FALSE(recs[0]["sample_half"].contains("knn.random_init.top1")) << "no sd beside it";
  EXPECT_FALSE(recs[0]["sample_half"].contains("linear_probe.top1"));
  const util::Interval t = util::accuracy_bootstrap(40, 2000), r = util::accuracy_bootstrap(30, 2000);
  const double acc = std::hypot(std::max(40 - t.lo, t.hi - 40), h);
  EXPECT_NE(s.md.find("| " + util::round_to_uncertainty(40, acc) + " |"), std::string::npos) << s.md;
  const double gain = std::hypot(acc, std::max(30 - r.lo, r.hi - 30));
  EXPECT_NE(s.md.find("| " + util::round_to_uncertainty(10, gain) + " |"), std::string::npos) << s.md;
  EXPECT_EQ(util::round_to_uncertainty(10, gain), "10.0 ± 3.8");
  const std::string res = s.md.substr(s.md.find("## Test-set resolution"));
  EXPECT_NE(res.find("| knn.top1 | 2000 | 2.1 |"), std::string::npos) << res;
}

TEST(SweepReport, TheRandomInitEncoderSitsBesideTheTrainedOnes) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  // Random init: k-NN 30, 31, 32 for seeds 0-2 in both groups, linear probe 40.
  write_masker_trials(d, {"multiblock", "block"}, {{40, 42, 41}, {35, 37, 37}}, {{50, 45, 52}, {48, 49, 47}});
  const std::string md = write_sweep_summary(d).md;
  const auto at = md.find("## The random-init encoder");
  ASSERT_NE(at, std::string::npos) << md;
  const std::string section = md.substr(at, md.find("## Test-set resolution") - at);
  // mean 31, sd 1, t(2) 4.303 / sqrt(3) -> ±2.5; one row: the groups agree seed for seed.
  EXPECT_NE(section.find("| group | seeds | knn.top1 | linear_probe.top1 |\n|---|---|---|---|\n"
                         "| every group (the same seed for seed) | 3 | 31.0 ± 2.5 | 40 (3 equal) |\n"),
            std::string::npos)
      << section;
  // A trial's gain carries both intervals: knn 40 vs 30 on 2000 images.
  const util::Interval t = util::accuracy_bootstrap(40, 2000), r = util::accuracy_bootstrap(30, 2000);
  const double half = std::hypot(std::max(40 - t.lo, t.hi - 40), std::max(30 - r.lo, r.hi - 30));
  EXPECT_NE(md.find("| " + util::round_to_uncertainty(10, half) + " |"), std::string::npos) << half << "\n" << md;
  EXPECT_EQ(util::round_to_uncertainty(10, half), "10.0 ± 2.9");
  // Another architecture's random encoder (here: block's seed 0 differs): one row per group.
  const fs::path f = d / "trials/block_s0/eval.jsonl";
  std::string text = test::read_text(f);
  text.replace(text.find("\"top1\":30"), 9, "\"top1\":20");
  write(f, text);
  const std::string md2 = write_sweep_summary(d).md;
  const std::string section2 = md2.substr(md2.find("## The random-init encoder"));
  EXPECT_NE(section2.find("| masker=multiblock | 3 | 31.0 ± 2.5 | 40 (3 equal) |\n"
                          "| masker=block | 3 | 28 ± 17 | 40 (3 equal) |"),
            std::string::npos)
      << section2;
  // Groups that share no seed were not compared: one row each, even where the figures could agree.
  for (const char* trial : {"multiblock_s1", "multiblock_s2", "block_s0"}) {
    fs::remove(d / "trials" / trial / "eval.jsonl");
  }
  const std::string md3 = write_sweep_summary(d).md;
  const std::string section3 = md3.substr(md3.find("## The random-init encoder"));
  EXPECT_NE(section3.find("| masker=multiblock | 1 | 30 (1) | 40 (1) |\n"
                          "| masker=block | 2 | 31.5 ± 6.4 | 40 (2 equal) |"),
            std::string::npos)
      << section3;
  // Two of three groups sharing seeds do not speak for the third, which shares none.
  write_masker_trials(d, {"multiblock", "block", "random"}, {{40, 42, 41}, {35, 37, 36}, {36, 38, 37}},
                      {{50, 45, 52}, {48, 49, 47}, {44, 45, 46}});
  for (const char* trial : {"random_s0", "random_s1"}) fs::remove(d / "trials" / trial / "eval.jsonl");
  for (const char* trial : {"multiblock_s2", "block_s2"}) fs::remove(d / "trials" / trial / "eval.jsonl");
  const std::string md4 = write_sweep_summary(d).md;
  const std::string section4 = md4.substr(md4.find("## The random-init encoder"));
  EXPECT_EQ(section4.find("every group"), std::string::npos) << section4;
  EXPECT_NE(section4.find("| masker=random | 1 | 32 (1) | 40 (1) |"), std::string::npos) << section4;
  // ... and with that third group sharing a seed with them, one row again.
  write_masker_trials(d, {"multiblock", "block", "random"}, {{40, 42, 41}, {35, 37, 36}, {36, 38, 37}},
                      {{50, 45, 52}, {48, 49, 47}, {44, 45, 46}});
  const std::string md5 = write_sweep_summary(d).md;
  EXPECT_NE(md5.find("| every group (the same seed for seed) | 3 |"), std::string::npos) << md5;
}

TEST(SweepReport, ReferenceBestByAndConstantColumns) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  write_masker_trials(d, {"multiblock", "block"}, {{40, 42, 41}, {35, 37, 37}}, {{50, 45, 52}, {48, 49, 47}});
  ReportOptions o;
  o.reference = "masker=block";
  o.best_by = "knn.gain.top1";
  const std::string md = write_sweep_summary(d, o).md;
  EXPECT_EQ(md.find("| knn.k |"), std::string::npos) << md;
  EXPECT_NE(md.find("The same in every trial (left out above): knn.k = 20."), std::string::npos) << md;
  EXPECT_NE(md.find("## Paired differences against `masker=block`"), std::string::npos) << md;
  // knn: +5, +5, +4 (above); linear: +2, -4, +5 (mean 1, undecided); the final loss the same in every seed (no
  // spread: undecided, not "above" or "below" on an interval of width 0).
  EXPECT_NE(md.find("| masker=multiblock | 3 | +0 (no spread over seeds: undecided) |"), std::string::npos) << md;
  EXPECT_NE(md.find("+4.7 ± 1.4 above"), std::string::npos) << md;
  EXPECT_NE(md.find("undecided"), std::string::npos) << md;
  EXPECT_NE(md.find("- Best group: `masker=multiblock`"), std::string::npos) << md;
  EXPECT_NE(md.find("the best is told apart from the runner-up"), std::string::npos) << md;
  EXPECT_NE(md.find("- Best trial: `multiblock_s1` (knn.gain.top1 11)"), std::string::npos)
      << "gain 42 - 31 = 11\n" << md;
  o.best_by = "linear_probe.top1";
  const std::string md2 = write_sweep_summary(d, o).md;
  // +2, -4, +5: mean 1, sd 4.6; what ranking them would take is said.
  EXPECT_NE(md2.find("cannot be ranked at this scale (~167 seeds would tell them apart four times in five, were the "
                     "difference as measured)."),
            std::string::npos)
      << md2;
  EXPECT_NE(md2.find("| linear_probe.top1 | 2000 |"), std::string::npos) << "a float test_n counts too\n" << md2;
  // Bad options: one line naming what is known; the summary files stay as they were.
  const std::string before = test::read_text(d / "summary.md");
  o.reference = "masker=random";
  try {
    write_sweep_summary(d, o);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("masker=multiblock; masker=block"), std::string::npos) << e.what();
  }
  o.reference.clear();
  o.best_by = "knn.top5";
  EXPECT_THROW(write_sweep_summary(d, o), ConfigError);
  EXPECT_EQ(test::read_text(d / "summary.md"), before);
}

// --best-by where the best leads the runner-up by the same amount in every seed (no spread, so no t interval): the
// exact sign test decides from six seeds on (p = 2 x 0.5^6 = 0.031), fewer seeds cannot rank them, and the same
// value in every seed is a tie at any number of seeds.
TEST(SweepReport, TheBestGroupWithoutSpreadIsJudgedByTheSignTest) {
  const auto best_line = [](int seeds, double lead) {
    test::TempDir tmp;
    const fs::path d = tmp.path();
    std::vector<nlohmann::json> trials;
    int index = 0;
    for (const char* masker : {"multiblock", "block"}) {
      for (int seed = 0; seed < seeds; ++seed) {
        const std::string name = std::string(masker) + "_s" + std::to_string(seed);
        trials.push_back({{"index", index++}, {"name", name}, {"values", {{"masker", masker}, {"seed", seed}}},
                          {"seed", seed}});
        write(d / "trials" / name / "status.json", R"({"state": "completed", "step": 1, "total_steps": 1})");
        const double top1 = 40.0 + 2 * seed + (std::string(masker) == "multiblock" ? lead : 0.0);
        write(d / "trials" / name / "eval.jsonl",
              nlohmann::json({{"evaluator", "knn"}, {"top1", top1}, {"test_n", 1000}}).dump() + "\n");
      }
    }
    nlohmann::json sw = sweep_with(trials);
    sw["axis_keys"] = {"masker", "seed"};
    write(d / "sweep.json", sw.dump(2));
    ReportOptions o;
    o.best_by = "knn.top1";
    const std::string md = write_sweep_summary(d, o).md;
    const auto at = md.find("- Runner-up:");
    return at == std::string::npos ? md : md.substr(at, md.find('\n', at) - at);
  };
  EXPECT_EQ(best_line(6, 3.0), "- Runner-up: `masker=block`: 45.0 ± 3.9. Paired difference over 6 seeds: +3 on "
                               "every seed (sign test p 0.031): the best is told apart from the runner-up.");
  EXPECT_NE(best_line(5, 3.0).find("+3 on every seed: no spread to judge by, and too few seeds for a sign test (six), "
                                   "so these two cannot be ranked at this scale."),
            std::string::npos)
      << best_line(5, 3.0);
  EXPECT_NE(best_line(6, 0.0).find("Paired difference over 6 seeds: the same on every seed, so these two cannot be "
                                   "ranked."),
            std::string::npos)
      << best_line(6, 0.0);
}

// Groups are ranked by their means over their own seeds, but told apart on the seeds both completed: where one
// group has a seed the other lacks (a failed trial), the two can disagree. X leads on the means only through its
// seed 3 (Y's failed); on seeds 0-2 Y is ahead by about 1 point every time. That was "told apart".
TEST(SweepReport, TheBestByItsMeanIsNotToldApartWhereThePairsPutTheRunnerUpAhead) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  std::vector<nlohmann::json> trials;
  int index = 0;
  const std::map<std::string, std::vector<double>> knn{{"X", {49.0, 50.1, 48.9, 90.0}}, {"Y", {50.0, 51.0, 50.0}}};
  for (const auto& [masker, top1s] : knn) {
    for (int seed = 0; seed < 4; ++seed) {
      const std::string name = masker + "_s" + std::to_string(seed);
      trials.push_back({{"index", index++}, {"name", name}, {"values", {{"masker", masker}, {"seed", seed}}},
                        {"seed", seed}});
      if (static_cast<std::size_t>(seed) >= top1s.size()) {
        write(d / "trials" / name / "status.json", R"({"state": "failed", "step": 1, "total_steps": 4})");
        continue;
      }
      write(d / "trials" / name / "status.json", R"({"state": "completed", "step": 4, "total_steps": 4})");
      write(d / "trials" / name / "eval.jsonl",
            nlohmann::json({{"evaluator", "knn"}, {"top1", top1s[static_cast<std::size_t>(seed)]}, {"test_n", 1000}})
                    .dump() +
                "\n");
    }
  }
  nlohmann::json sw = sweep_with(trials);
  sw["axis_keys"] = {"masker", "seed"};
  write(d / "sweep.json", sw.dump(2));
  ReportOptions o;
  o.best_by = "knn.top1";
  o.orderings = {"X > Y"};
  const std::string md = write_sweep_summary(d, o).md;
  EXPECT_NE(md.find("- Best group: `masker=X`"), std::string::npos) << md;
  EXPECT_NE(md.find("Paired difference over 3 seeds: -1.00 ± 0.25: the runner-up is ahead on the 3 seeds both "
                    "completed, so the ranking by means (over different seeds) does not hold"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("the best is told apart"), std::string::npos) << md;
  EXPECT_NE(md.find("| `masker=X` > `masker=Y` | 3 | -1.00 ± 0.25 | fails |"), std::string::npos) << md;
}

// Claims are judged on every top-1 accuracy, the low-shot probes' top1_1pct too (it is the paper's own metric), and a
// column over fewer pairs or seeds than the rest of its row says how many: B_s2 has no k-NN record.
TEST(SweepReport, LowShotAccuraciesAreJudgedAndACellOverFewerTrialsSaysSo) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  std::vector<nlohmann::json> trials;
  int index = 0;
  for (const std::string masker : {"A", "B"}) {
    for (int seed = 0; seed < 3; ++seed) {
      const std::string name = masker + "_s" + std::to_string(seed);
      trials.push_back({{"index", index++}, {"name", name}, {"values", {{"masker", masker}, {"seed", seed}}},
                        {"seed", seed}});
      write(d / "trials" / name / "status.json", R"({"state": "completed", "step": 4, "total_steps": 4})");
      const double lead = masker == "A" ? 5.0 + 0.1 * seed : 0.0;
      const nlohmann::json ls = {{"evaluator", "low_shot"}, {"top1_1pct", 30.0 + seed + lead}, {"n_1pct", 500},
                                 {"test_n", 1000}};
      const nlohmann::json kn = {{"evaluator", "knn"}, {"top1", 40.0 + 2 * seed + (masker == "A" ? 1.0 : 0.0)},
                                 {"test_n", 1000}};
      write(d / "trials" / name / "eval.jsonl", ls.dump() + "\n" + (name == "B_s2" ? "" : kn.dump() + "\n"));
    }
  }
  nlohmann::json sw = sweep_with(trials);
  sw["axis_keys"] = {"masker", "seed"};
  write(d / "sweep.json", sw.dump(2));
  ReportOptions o;
  o.reference = "A";
  o.orderings = {"A > B", "B > A"};
  const std::string md = write_sweep_summary(d, o).md;
  EXPECT_NE(md.find("| ordering | pairs | knn.top1: A − B | verdict | low_shot.top1_1pct: A − B | verdict |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `masker=A` > `masker=B` | 3 | +1 (no spread, sign test p 0.5) (2 pairs) | undecided | "
                    "+5.10 ± 0.25 | holds |"),
            std::string::npos)
      << md;
  // The reversed claim is the same two tests (Holm's family: two, not four), and their verdicts the other way round.
  EXPECT_NE(md.find("| `masker=B` > `masker=A` | 3 | -1 (no spread, sign test p 0.5) (2 pairs) | undecided | "
                    "-5.10 ± 0.25 | fails |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("with Holm's correction over the 2 tests: 1 hold, 1 fail"), std::string::npos) << md;
  // The paired differences against A: 3 pairs, k-NN over 2; the grouped table: B's k-NN over 2 of 3 completed.
  EXPECT_NE(md.find("| masker=B | 3 | — | -1 (no spread over seeds, sign test p 0.5: undecided) (2 pairs) | "
                    "-5.10 ± 0.25 below |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| B | 0 1 2 | 3/3 | — | 41 ± 13 (n 2) | 31.0 ± 2.5 |"), std::string::npos) << md;
}

// Two differences that each pass at 95 % alone (p = 0.030) do not both survive Holm's correction over the two
// (the smaller must be below 0.025): the claim holds on each probe, and is undecided once corrected.
TEST(SweepReport, OrderingsCorrectForManyComparisons) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  const std::array<double, 5> diff = {1.0, 0.3, 1.2, 0.9, 0.1};  // mean 0.7, sd 0.474, t(4) = 3.30, p = 0.030
  std::vector<nlohmann::json> trials;
  int index = 0;
  for (const char* g : {"a", "b"}) {
    for (int seed = 0; seed < 5; ++seed) {
      const std::string name = std::string(g) + "_s" + std::to_string(seed);
      trials.push_back({{"index", index++}, {"name", name}, {"values", {{"masker", g}, {"seed", seed}}}, {"seed", seed}});
      write(d / "trials" / name / "status.json", R"({"state": "completed", "step": 1, "total_steps": 1})");
      const double x = 40.0 + seed + (g[0] == 'a' ? diff[static_cast<std::size_t>(seed)] : 0.0);
      write(d / "trials" / name / "eval.jsonl",
            nlohmann::json({{"evaluator", "knn"}, {"top1", x}, {"test_n", 100}}).dump() + "\n" +
                nlohmann::json({{"evaluator", "linear_probe"}, {"top1", x + 5}, {"test_n", 100}}).dump() + "\n");
    }
  }
  nlohmann::json sw = sweep_with(trials);
  sw["axis_keys"] = {"masker", "seed"};
  write(d / "sweep.json", sw.dump(2));
  ReportOptions o;
  o.orderings = {"a > b"};
  const std::string md = write_sweep_summary(d, o).md;
  EXPECT_NE(md.find("| `masker=a` > `masker=b` | 5 | +0.70 ± 0.59 | holds | +0.70 ± 0.59 | holds | **holds** | "
                    "undecided |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("with Holm's correction over the 2 tests: 0 hold, 0 fail, 0 mixed, 1 undecided."),
            std::string::npos)
      << md;
}

// --order "A > B": each claim judged per top-1 accuracy on the paired differences by seed. Three maskers x three
// seeds: knn puts multiblock +5, +5, +4 above block (holds) and random +2, +2, +1; the linear probe has multiblock -
// block = +2, -4, +5 (undecided) and random -10, -9, -10 (so "random > block" is mixed: knn holds, linear fails);
// "block > multiblock" fails on knn. (Differences equal in every seed would be undecided: no spread.)
TEST(SweepReport, OrderingsHoldFailOrStayUndecidedPerMetric) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  const std::vector<nlohmann::json> trials =
      write_masker_trials(d, {"multiblock", "block", "random"}, {{40, 42, 41}, {35, 37, 37}, {37, 39, 38}},
                          {{50, 45, 52}, {48, 49, 47}, {38, 40, 37}}, {{"top5", 90.0}});
  ReportOptions o;
  // A group by KEY=VALUE, by a bare value, by one of its trials' names; spaces around '>' optional.
  o.orderings = {"masker=multiblock > masker=block", "random>block", "block_s2 > multiblock"};
  const std::string md = write_sweep_summary(d, o).md;
  EXPECT_NE(md.find("## Orderings"), std::string::npos) << md;
  EXPECT_NE(md.find("| ordering | pairs | knn.top1: A − B | verdict | linear_probe.top1: A − B | verdict | overall |"),
            std::string::npos)
      << "top-1 accuracies only (no top5, no random-init column)\n" << md;
  // The linear probe's +2, -4, +5 (mean 1, sd 4.6: a standardised 0.22) would need ~167 seeds to separate.
  EXPECT_NE(md.find("| `masker=multiblock` > `masker=block` "
                    "| 3 | +4.7 ± 1.4 | holds | +1 ± 11 | undecided (~167 seeds) | **holds** |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `masker=random` > `masker=block` "
                    "| 3 | +1.7 ± 1.4 | holds | -9.7 ± 1.4 | fails | mixed | **fails** |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| `masker=block` > `masker=multiblock` "
                    "| 3 | -4.7 ± 1.4 | fails | -1 ± 11 | undecided (~167 seeds) | **fails** |"),
            std::string::npos)
      << md;
  // Holm over the four distinct tests (the third claim is the first reversed: the same two differences) keeps the
  // ±4.7 difference (p 0.005) and random's linear -9.7 (p 0.0012), not its knn +1.7 (p 0.038, above 0.05 / 2), so
  // that claim fails rather than mixed (the linear +1 ± 11 was never separated).
  EXPECT_NE(md.find("Of 3 claims: 1 hold, 1 fail, 1 mixed, 0 undecided; with Holm's correction over the 4 tests: "
                    "1 hold, 2 fail, 0 mixed, 0 undecided."),
            std::string::npos)
      << md;
  // With one seed a claim cannot be decided, whatever the difference.
  o.orderings = {"multiblock > block"};
  std::vector<nlohmann::json> one(trials.begin(), trials.begin() + 1);
  one.push_back(trials[3]);
  nlohmann::json sw1 = sweep_with(one);
  sw1["axis_keys"] = {"masker", "seed"};
  write(d / "sweep.json", sw1.dump(2));
  const std::string md1 = write_sweep_summary(d, o).md;
  EXPECT_NE(md1.find("| `masker=multiblock` > `masker=block` | 1 | +5 (1 pair) | undecided |"), std::string::npos) << md1;
  EXPECT_NE(md1.find("0 hold, 0 fail, 0 mixed, 1 undecided"), std::string::npos) << md1;
  // Bad claims: one line saying what is wrong; the summary files stay as they were.
  const std::string before = test::read_text(d / "summary.md");
  for (const auto& [claim, needle] : std::vector<std::pair<std::string, std::string>>{
           {"multiblock >> block", "expected one claim 'A > B'"},
           {"multiblock < block", "expected one claim 'A > B'"},
           {" > block", "both sides named"},
           {"multiblock > masker=mae", "no group of trials matches 'masker=mae' (groups: masker=multiblock; masker=block)"},
           {"block > block_s0", "both sides are the group 'masker=block'"}}) {
    o.orderings = {claim};
    try {
      write_sweep_summary(d, o);
      ADD_FAILURE() << claim << ": no error";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--order '" + claim + "'"), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  EXPECT_EQ(test::read_text(d / "summary.md"), before);
}

// An axis of whole components (Table 6's maskers): the Markdown shows each by what tells it apart -- its type, or
// else the keys that differ -- so a reader sees "rasterized", and --reference takes "masker=rasterized"; the CSV
// keeps the whole objects for programs.
TEST(SweepReport, ObjectAxisValuesShowWhatTellsThemApart) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  const nlohmann::json mb = {{"type", "multiblock"}, {"pred_mask_scale", {0.15, 0.2}}, {"min_keep", 4}};
  const nlohmann::json ra = {{"type", "rasterized"}, {"context_quadrant", -1}, {"min_keep", 4}};
  const nlohmann::json mb2 = {{"type", "multiblock"}, {"pred_mask_scale", {0.2, 0.3}}, {"min_keep", 4}};
  auto make = [&](const fs::path& dir, const std::vector<nlohmann::json>& maskers) {
    std::vector<nlohmann::json> trials;
    int index = 0;
    for (std::size_t m = 0; m < maskers.size(); ++m) {
      for (int seed = 0; seed < 2; ++seed) {
        const std::string name = "m" + std::to_string(m) + "_s" + std::to_string(seed);
        trials.push_back({{"index", index++}, {"name", name},
                          {"values", {{"components.masker", maskers[m]}, {"seed", seed}}}, {"seed", seed}});
        write(dir / "trials" / name / "status.json",
              R"({"state": "completed", "step": 4, "total_steps": 4, "final_loss": 0.5, "seconds": 2.0})");
        const nlohmann::json ek = {{"step", 4}, {"evaluator", "knn"}, {"where", "components.evaluators.0"},
                                   {"top1", 40.0 + 3.0 * static_cast<double>(m) + seed}, {"test_n", 2000},
                                   {"random_init", {{"top1", 30.0}}}};
        write(dir / "trials" / name / "eval.jsonl", ek.dump() + "\n");
      }
    }
    nlohmann::json sw = sweep_with(trials);
    sw["axis_keys"] = {"components.masker", "seed"};
    write(dir / "sweep.json", sw.dump(2));
  };
  make(d / "by_type", {mb, ra});
  ReportOptions o;
  o.reference = "masker=rasterized";
  const SweepSummaryText t = write_sweep_summary(d / "by_type", o);
  EXPECT_NE(t.md.find("| 0 | m0_s0 | multiblock | 0 |"), std::string::npos) << t.md;
  EXPECT_NE(t.md.find("| 2 | m1_s0 | rasterized | 0 |"), std::string::npos) << t.md;
  EXPECT_NE(t.md.find("| multiblock | 0 1 | 2/2 |"), std::string::npos) << t.md;
  EXPECT_NE(t.md.find("## Paired differences against `masker=rasterized`"), std::string::npos) << t.md;
  EXPECT_NE(t.md.find("| masker=multiblock | 2 |"), std::string::npos) << t.md;
  EXPECT_EQ(t.md.find("context_quadrant"), std::string::npos) << "the whole object stays out of the Markdown\n" << t.md;
  EXPECT_NE(t.csv.find(csv_quote(ra.dump())), std::string::npos) << t.csv;
  EXPECT_NE(t.grouped_csv.find(csv_quote(mb.dump())), std::string::npos) << t.grouped_csv;

  // The same type twice: the keys whose values differ, the type first when it differs too.
  make(d / "by_keys", {mb, mb2, ra});
  o.reference = "masker=type=multiblock context_quadrant=- pred_mask_scale=[0.2,0.3]";
  const SweepSummaryText k = write_sweep_summary(d / "by_keys", o);
  EXPECT_NE(k.md.find("| type=multiblock context_quadrant=- pred_mask_scale=[0.15,0.2] |"), std::string::npos) << k.md;
  EXPECT_NE(k.md.find("| type=rasterized context_quadrant=-1 pred_mask_scale=- |"), std::string::npos) << k.md;
  EXPECT_NE(k.md.find("## Paired differences against `masker=type=multiblock context_quadrant=- "
                      "pred_mask_scale=[0.2,0.3]`"),
            std::string::npos)
      << k.md;
}

// The sweep file's "report" block (kept in sweep.json): the summary uses it without options, a best_by metric no
// trial has is a note rather than an error (a sweep writes summaries before its trials evaluate, and must not fail
// over one), command-line options replace it, and its errors name the file and the block's key.
TEST(SweepReport, TheSweepFilesReportBlockIsTheDefault) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  write_masker_trials(d, {"multiblock", "block"}, {{40, 42, 41}, {35, 37, 37}}, {{50, 45, 52}, {48, 49, 47}});
  nlohmann::json sw = load_json_file(d / "sweep.json");
  sw["sweep"] = {{"seeds", {0, 1, 2}},
                 {"report", {{"reference", "block"}, {"best_by", "knn.gain.top5"}, {"orderings", {"multiblock > block"}}}}};
  write(d / "sweep.json", sw.dump(2));
  const std::string md = write_sweep_summary(d).md;
  EXPECT_NE(md.find("## Paired differences against `masker=block`"), std::string::npos) << md;
  EXPECT_NE(md.find("| `masker=multiblock` > `masker=block` | 3 | +4.7 ± 1.4 | holds |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Best by `knn.gain.top5`\n\nNo trial has this metric: " + (d / "sweep.json").string() +
                    ": sweep.report.best_by names none of theirs (known: final_loss, knn.k, "),
            std::string::npos)
      << md;
  EXPECT_EQ(test::read_text(d / "summary.md"), md);
  {  // Before any trial has evaluated: "yet".
    test::TempDir fresh;
    write(fresh.path() / "sweep.json", sw.dump(2));
    EXPECT_NE(write_sweep_summary(fresh.path()).md.find("## Best by `knn.gain.top5`\n\nNo trial has this metric yet."),
              std::string::npos);
  }
  // The command line replaces each option it gives; --order replaces all of the file's orderings.
  ReportOptions o;
  o.orderings = {"block > multiblock"};
  o.best_by = "knn.gain.top1";
  const std::string md2 = write_sweep_summary(d, o).md;
  EXPECT_EQ(md2.find("| `masker=multiblock` > `masker=block` |"), std::string::npos) << md2;
  EXPECT_NE(md2.find("| `masker=block` > `masker=multiblock` | 3 | -4.7 ± 1.4 | fails |"), std::string::npos) << md2;
  EXPECT_NE(md2.find("- Best group: `masker=multiblock`"), std::string::npos) << md2;
  EXPECT_NE(md2.find("## Paired differences against `masker=block`"), std::string::npos) << "the file's reference stays";
  o.best_by = "knn.gain.top5";  // from the command line an unknown metric is still an error
  EXPECT_THROW(write_sweep_summary(d, o), ConfigError);
  // A group the trials do not have: the error names the file and the key, at planning (check_sweep_report) and at
  // writing.
  sw["sweep"]["report"]["orderings"] = {"multiblock > mae"};
  write(d / "sweep.json", sw.dump(2));
  for (int pass = 0; pass < 2; ++pass) {
    try {
      if (pass == 0) {
        check_sweep_report(sw, "e.json");
      } else {
        write_sweep_summary(d);
      }
      ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(pass == 0 ? "e.json: sweep.report.orderings 'multiblock > mae'"
                                    : "sweep.json: sweep.report.orderings 'multiblock > mae'"),
                std::string::npos)
          << what;
      EXPECT_NE(what.find("no group of trials matches 'mae'"), std::string::npos) << what;
    }
  }
  sw["sweep"]["report"].erase("orderings");
  EXPECT_NO_THROW(check_sweep_report(sw, "e.json"));
  // sweep.json edited by hand after the sweep: the block is checked again when read.
  sw["sweep"]["report"]["orderings"] = "multiblock > block";
  write(d / "sweep.json", sw.dump(2));
  try {
    write_sweep_summary(d);
    ADD_FAILURE() << "no error";
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find("sweep.json: sweep.report.orderings: expected a list"), std::string::npos)
        << e.what();
  }
}

// The claims someone asked `ijepa report` to judge survived only until the sweep rewrote its summary (a re-run to
// add seeds): now the options of the last report that wrote a summary are kept in report.json and used by every
// summary written without options of its own; --defaults drops them.
TEST(SweepReport, TheLastReportsOptionsAreKeptForLaterSummaries) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  write_masker_trials(d, {"multiblock", "block"}, {{40, 42, 41}, {35, 37, 37}}, {{50, 45, 52}, {48, 49, 47}});
  const std::string claim = "| `masker=multiblock` > `masker=block` | 3 | +4.7 ± 1.4 | holds |";
  EXPECT_EQ(write_sweep_summary(d).md.find(claim), std::string::npos);
  const auto first = test::run_ijepa({"report", d.string(), "--order", "multiblock > block"});
  ASSERT_EQ(first.rc, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("options kept in " + (d / "report.json").string()), std::string::npos) << first.out;
  EXPECT_EQ(load_json_file(d / "report.json"), nlohmann::json::parse(R"({"orderings": ["multiblock > block"]})"));
  // What the sweep does after each trial: no options of its own.
  EXPECT_NE(write_sweep_summary(d).md.find(claim), std::string::npos);
  EXPECT_NE(test::read_text(d / "summary.md").find(claim), std::string::npos);
  const auto plain = test::run_ijepa({"report", d.string()});
  ASSERT_EQ(plain.rc, 0) << plain.err;
  EXPECT_NE(plain.out.find("with the options saved in " + (d / "report.json").string()), std::string::npos)
      << plain.out;
  EXPECT_NE(plain.out.find(claim), std::string::npos);
  // A report that fails keeps the saved options and the summaries as they were.
  const std::string before = test::read_text(d / "summary.md");
  const auto bad = test::run_ijepa({"report", d.string(), "--order", "multiblock > mae"});
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  EXPECT_EQ(load_json_file(d / "report.json"), nlohmann::json::parse(R"({"orderings": ["multiblock > block"]})"));
  EXPECT_EQ(test::read_text(d / "summary.md"), before);
  EXPECT_EQ(test::run_ijepa({"report", d.string(), "--defaults", "--order", "a > b"}).rc, 2);
  const auto reset = test::run_ijepa({"report", d.string(), "--defaults"});
  ASSERT_EQ(reset.rc, 0) << reset.err;
  EXPECT_FALSE(fs::exists(d / "report.json"));
  EXPECT_EQ(test::read_text(d / "summary.md").find(claim), std::string::npos);
  // A report.json edited into something else is named.
  write(d / "report.json", R"({"orderings": "multiblock > block"})");
  try {
    (void)write_sweep_summary(d);
    ADD_FAILURE() << "no error";
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find((d / "report.json").string() + ": unexpected key or value 'orderings'"),
              std::string::npos)
        << e.what();
  }
}

// A selection that fits several groups is an error naming them, never a silent first pick; a whole KEY=VALUE whose
// value has commas selects on its own; several parts narrow it down.
TEST(SweepReport, AmbiguousGroupSelectionsAreErrors) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  std::vector<nlohmann::json> trials;
  int index = 0;
  for (const char* scale : {"[0.15,0.2]", "[0.2,0.3]"}) {
    for (int keep : {3, 4}) {
      for (int seed = 0; seed < 2; ++seed) {
        const std::string name = std::string("t_") + std::to_string(index);
        trials.push_back({{"index", index++},
                          {"name", name},
                          {"values", {{"scale", nlohmann::json::parse(scale)}, {"min_keep", keep}, {"seed", seed}}},
                          {"seed", seed}});
        write(d / "trials" / name / "status.json", R"({"state": "completed", "step": 1, "total_steps": 1})");
        const nlohmann::json ek = {{"evaluator", "knn"}, {"top1", 40.0 + keep + seed}, {"test_n", 100}};
        write(d / "trials" / name / "eval.jsonl", ek.dump() + "\n");
      }
    }
  }
  nlohmann::json sw = sweep_with(trials);
  sw["axis_keys"] = {"min_keep", "scale", "seed"};
  write(d / "sweep.json", sw.dump(2));
  ReportOptions o;
  o.reference = "scale=[0.15,0.2]";  // two groups: min_keep 3 and 4
  try {
    write_sweep_summary(d, o);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--reference: 'scale=[0.15,0.2]' matches 2 groups (min_keep=3, scale=[0.15,0.2]; "
                        "min_keep=4, scale=[0.15,0.2])"),
              std::string::npos)
        << what;
  }
  o.reference = "4";  // a bare value of one axis
  EXPECT_THROW(write_sweep_summary(d, o), ConfigError) << "min_keep=4 is two groups";
  o.reference = "min_keep=4, scale=[0.2,0.3]";
  o.orderings = {"min_keep=4,[0.2,0.3] > min_keep=3,[0.2,0.3]"};
  const std::string md = write_sweep_summary(d, o).md;
  EXPECT_NE(md.find("## Paired differences against `min_keep=4, scale=[0.2,0.3]`"), std::string::npos) << md;
  // +1 in both seeds: no spread; the sign test of two pairs, p 0.5, decides nothing
  EXPECT_NE(md.find("| `min_keep=4, scale=[0.2,0.3]` > `min_keep=3, scale=[0.2,0.3]` "
                    "| 2 | +1 (no spread, sign test p 0.5) | undecided |"),
            std::string::npos)
      << md;
  // Whole values only: a list cut short at its comma ('[0.2' for [0.2,0.3]) matched by substring and selected a
  // group without a word.
  o.orderings.clear();
  for (const char* cut : {"min_keep=4, scale=[0.2", "min_keep=4,[0.2", "scale=[0.2, min_keep=4"}) {
    o.reference = cut;
    try {
      write_sweep_summary(d, o);
      ADD_FAILURE() << cut << ": no error";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("no group of trials matches"), std::string::npos) << e.what();
    }
  }
}

// Groups are named by the axis's short name or its full key (the shipped T6 GPU sweep's description says
// `--reference components.masker=multiblock`).
TEST(SweepReport, AGroupIsNamedByTheAxissShortOrFullKey) {
  test::TempDir tmp;
  const fs::path d = tmp.path();
  write_masker_trials(d, {"multiblock", "block"}, {{40, 42, 41}, {35, 37, 37}}, {{50, 45, 52}, {48, 49, 47}});
  nlohmann::json sw = load_json_file(d / "sweep.json");
  for (auto& t : sw["trials"]) t["values"] = {{"components.masker", t["values"]["masker"]}, {"seed", t["seed"]}};
  sw["axis_keys"] = {"components.masker", "seed"};
  write(d / "sweep.json", sw.dump(2));
  for (const char* ref : {"masker=block", "components.masker=block", "block"}) {
    ReportOptions o;
    o.reference = ref;
    EXPECT_NE(write_sweep_summary(d, o).md.find("## Paired differences against `masker=block`"), std::string::npos)
        << ref;
  }
  for (const char* bad : {"asker=block", "components.maske=block", "masker=bloc"}) {
    ReportOptions o;
    o.reference = bad;
    EXPECT_THROW(write_sweep_summary(d, o), ConfigError) << bad;
  }
}
