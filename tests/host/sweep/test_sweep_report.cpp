// Trial states (host/src/run/sweep_dir) and summary tables (host/src/run/sweep_report) from hand-made sweep
// directories: no training, so every state and number is known exactly.
#include <gtest/gtest.h>

#include <sys/file.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <cmath>

#include "ijepa/host/config/json_file.hpp"
#include "host/hosting/fixture_plugins.hpp"
#include "ijepa/host/run/sweep_dir.hpp"
#include "ijepa/host/run/sweep_report.hpp"

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
  // Trial 1: completed.
  write(d / "trials/lr0.1_s1/status.json",
        R"({"state": "completed", "step": 4, "total_steps": 4, "final_loss": 0.7, "seconds": 4.0, "images_per_s": 50.0})");
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
  EXPECT_EQ(recs[2]["state"], "failed");
  EXPECT_EQ(recs[2]["error"], "killed by signal SIGABRT, \"core\"");
  EXPECT_EQ(recs[2]["final_loss"], 0.9) << "the latest logged loss of an unfinished trial";
  EXPECT_EQ(recs[3]["state"], "pending");
  EXPECT_TRUE(recs[3]["final_loss"].is_null());

  // Markdown: trial rows, then groups over seeds with mean ± sample std (— for one, — without any completed).
  EXPECT_NE(text.md.find("4 trials: 2 completed, 1 failed, 1 pending"), std::string::npos) << text.md;
  EXPECT_NE(text.md.find("| 0 | lr0.1_s0 | 0.1 | 0 | completed | 4/4 | 0.5 | 20 | 6 | 30 | 2 | 200 |  |"),
            std::string::npos)
      << text.md;
  EXPECT_NE(text.md.find("| 0.1 | 0 1 | 2/2 | 0.6 ± 0.1414 | 20 ± — | 7 ± 1.414 | 35 ± 7.071 | 3 ± 1.414 | 125 ± 106.1 |"),
            std::string::npos)
      << text.md;
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
  EXPECT_NE(g.find("0.3,0,0,1,,,"), std::string::npos) << g;

  // Regenerating gives the same bytes.
  EXPECT_EQ(write_sweep_summary(d).md, text.md);
  EXPECT_EQ(test::read_text(d / "summary.csv"), csv);
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
