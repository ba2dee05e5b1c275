// A full disk and a read-only folder, end to end through the real `ijepa` binary: the faultfs shim
// (tests/fixtures/faultfs, LD_PRELOAD) makes chosen file calls fail with ENOSPC or EROFS, so these paths are tested
// without mounting anything. Each failure must be one line naming the file and the system's reason, a non-zero exit,
// and nothing lost: the last good checkpoint stays, the run records how it ended, and a resume finishes the run as
// if nothing had happened.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <torch/types.h>

#include "host/hosting/fixture_plugins.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;
using ijepa::test::CommandResult;
using ijepa::test::shell_quote;
using nlohmann::json;

// Which calls fail: those of `ops` on paths containing `path`, after `after` matching calls succeeded.
struct Fault {
  std::string path;
  std::string ops = "write";
  std::string err = "ENOSPC";
  int after = 0;
};

// The read-only folder: every way of changing something under `path` fails with EROFS.
Fault read_only(const fs::path& path) { return {path.string(), "open,mkdir,rename,remove", "EROFS", 0}; }

// `ijepa args...` with the fault (and `env`, "NAME=value ...", in its environment).
CommandResult ijepa_with(const Fault& f, const std::vector<std::string>& args, const std::string& env = "") {
  std::string cmd = "env -u IJEPA_PLUGIN_PATH IJEPA_LOG_LEVEL=warn " + env +
                    " LD_PRELOAD=" + shell_quote(IJEPA_FAULTFS) +
                    " IJEPA_FAULT_PATH=" + shell_quote(f.path) + " IJEPA_FAULT_OPS=" + f.ops +
                    " IJEPA_FAULT_ERRNO=" + f.err + " IJEPA_FAULT_AFTER=" + std::to_string(f.after) + " " +
                    shell_quote(IJEPA_CLI_EXE);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return ijepa::test::run_command(cmd);
}

std::string show(const CommandResult& r) {
  return "exit " + std::to_string(r.rc) + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The lines of `text` that contain `part`.
std::vector<std::string> lines_with(const std::string& text, const std::string& part) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (has(line, part)) out.push_back(line);
  }
  return out;
}

// The tiny experiment (16 steps, a checkpoint every 2) written to dir/e.json.
fs::path experiment(const fs::path& dir) {
  const fs::path p = dir / "e.json";
  ijepa::test::write_text(p, ijepa::test::tiny_experiment().dump());
  return p;
}

json status_of(const fs::path& run) { return json::parse(ijepa::test::read_text(run / "status.json")); }

std::string latest_of(const fs::path& run) {
  std::string s = ijepa::test::read_text(run / "checkpoints" / "LATEST");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// The names in a folder, sorted.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every regular file under `dir`, relative path -> content.
std::map<std::string, std::string> contents(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = ijepa::test::read_text(e.path());
  }
  return out;
}

// The final weights of two runs are the same tensors, bit for bit.
void expect_same_weights(const fs::path& a, const fs::path& b) {
  const auto ta = ijepa::host::read_safetensors((a / "checkpoints" / "latest.safetensors").string());
  const auto tb = ijepa::host::read_safetensors((b / "checkpoints" / "latest.safetensors").string());
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, t] : ta) {
    const auto it = tb.find(name);
    ASSERT_NE(it, tb.end()) << name;
    EXPECT_TRUE(t.equal(it->second)) << name;
  }
}

}  // namespace

// The disk fills while a checkpoint is written (the fourth write into the checkpoint folder fails): the run stops
// with one line naming the file, status.json says failed at that step with the same reason, the folder keeps the
// earlier checkpoint and no half-written file; once space is back, --resume ends with the same weights as a run
// that never failed.
TEST(DiskFaults, AFullDiskAtACheckpointStopsTheRunAndItsResumeEqualsAnUninterruptedRun) {
  ijepa::test::TempDir tmp;
  const fs::path e = experiment(tmp.path());
  const fs::path clean = tmp / "clean", run = tmp / "run";
  const auto c = ijepa::test::run_ijepa({"train", e.string(), "--out", clean.string(), "--quiet"});
  ASSERT_EQ(c.rc, 0) << show(c);

  const auto r = ijepa_with({(run / "checkpoints").string(), "write", "ENOSPC", 3},
                            {"train", e.string(), "--out", run.string(), "--quiet"});
  EXPECT_EQ(r.rc, 1) << show(r);
  const auto errors = lines_with(r.err, "error");
  ASSERT_EQ(errors.size(), 1u) << show(r);
  EXPECT_EQ(errors[0].rfind("ijepa train: error: ", 0), 0u) << show(r);
  EXPECT_TRUE(has(errors[0], "/checkpoints/step_")) << show(r);
  EXPECT_TRUE(has(errors[0], ": write failed: No space left on device")) << show(r);

  const json st = status_of(run);
  EXPECT_EQ(st["state"], "failed") << st.dump(2);
  EXPECT_TRUE(has(errors[0], st["error"].get<std::string>())) << st.dump(2);
  ASSERT_TRUE(st.contains("failed_step")) << st.dump(2);
  const int failed_step = st["failed_step"].get<int>();
  EXPECT_GT(failed_step, 0);
  const std::string latest = latest_of(run);
  EXPECT_EQ(latest.rfind("step_", 0), 0u) << latest;
  EXPECT_LT(std::stoi(latest.substr(5)), failed_step) << latest;
  for (const auto& n : names_in(run / "checkpoints")) {
    EXPECT_NE(n[0], '.') << "a temporary file was left behind: " << n;
    if (n.rfind("step_", 0) == 0) {
      EXPECT_EQ(n.rfind(latest, 0), 0u) << n << " beside LATEST " << latest;
    }
  }

  const auto res = ijepa::test::run_ijepa({"train", e.string(), "--out", run.string(), "--resume", "--quiet"});
  ASSERT_EQ(res.rc, 0) << show(res);
  EXPECT_EQ(status_of(run)["state"], "completed");
  expect_same_weights(clean, run);
}

// Only the final checkpoint fails (its file cannot be written, or cannot be renamed into place): the run is not
// "completed"; status.json and log.txt say why, the checkpoint before it stays the latest, and a resume ends it.
TEST(DiskFaults, AFailedFinalCheckpointIsRecordedAndTheOneBeforeItKept) {
  ijepa::test::TempDir tmp;
  const fs::path e = experiment(tmp.path());
  for (const std::string ops : {"write", "rename"}) {
    SCOPED_TRACE(ops);
    const fs::path run = tmp / ("run_" + ops);
    const auto r = ijepa_with({"step_00000016", ops}, {"train", e.string(), "--out", run.string(), "--quiet"});
    EXPECT_EQ(r.rc, 1) << show(r);
    const std::string reason = std::string(ops == "write" ? "write" : "rename") + " failed: No space left on device";
    ASSERT_EQ(lines_with(r.err, "error").size(), 1u) << show(r);
    EXPECT_TRUE(has(r.err, "step_00000016")) << show(r);
    EXPECT_TRUE(has(r.err, reason)) << show(r);
    const json st = status_of(run);
    EXPECT_EQ(st["state"], "failed") << st.dump(2);
    EXPECT_TRUE(has(st.value("error", ""), reason)) << st.dump(2);
    EXPECT_TRUE(has(ijepa::test::read_text(run / "log.txt"), "run failed at step 16: ")) << show(r);
    EXPECT_EQ(latest_of(run), "step_00000014");
    EXPECT_FALSE(fs::exists(run / "checkpoints" / "step_00000016.safetensors"));

    const auto res = ijepa::test::run_ijepa({"train", e.string(), "--out", run.string(), "--resume", "--quiet"});
    ASSERT_EQ(res.rc, 0) << show(res);
    EXPECT_EQ(status_of(run)["state"], "completed");
    EXPECT_EQ(latest_of(run), "step_00000016");
  }
}

// The disk fills while metrics.jsonl or the TensorBoard event file is appended to: one line with the file and the
// reason, the run recorded as failed.
TEST(DiskFaults, AFullDiskOnTheMetricsOrEventFileStopsTheRunWithTheReason) {
  ijepa::test::TempDir tmp;
  const fs::path e = experiment(tmp.path());
  for (const std::string file : {"metrics.jsonl", "events.out.tfevents."}) {
    SCOPED_TRACE(file);
    const fs::path run = tmp / ("run_" + file.substr(0, file.find('.')));
    const auto r = ijepa_with({(run / file).string(), "write", "ENOSPC", 2},
                              {"train", e.string(), "--out", run.string(), "--quiet"});
    EXPECT_EQ(r.rc, 1) << show(r);
    const auto errors = lines_with(r.err, "error");
    ASSERT_EQ(errors.size(), 1u) << show(r);
    EXPECT_TRUE(has(errors[0], file)) << show(r);
    EXPECT_TRUE(has(errors[0], "write failed: No space left on device")) << show(r);
    EXPECT_EQ(status_of(run)["state"], "failed");
  }
}

// --resume of a run on a read-only file system says so, instead of "in use by another process", and changes
// nothing.
TEST(DiskFaults, AResumeOnAReadOnlyFileSystemSaysSoAndChangesNothing) {
  ijepa::test::TempDir tmp;
  const fs::path e = experiment(tmp.path());
  const fs::path run = tmp / "run";
  const auto c = ijepa::test::run_ijepa({"train", e.string(), "--out", run.string(), "--quiet", "--set",
                                         "train.max_steps=4"});
  ASSERT_EQ(c.rc, 0) << show(c);
  const auto before = contents(run);
  const auto r = ijepa_with(read_only(run), {"train", e.string(), "--out", run.string(), "--resume", "--quiet"});
  EXPECT_EQ(r.rc, 1) << show(r);
  ASSERT_EQ(lines_with(r.err, "error").size(), 1u) << show(r);
  EXPECT_TRUE(has(r.err, "Read-only file system")) << show(r);
  EXPECT_FALSE(has(r.err, "another")) << show(r);
  EXPECT_EQ(contents(run), before);
}

// `ijepa eval` and `ijepa embed` check their output folder before the work: a read-only one is one line (exit 2)
// before any feature is computed; a disk that fills while the result is written leaves no file behind.
TEST(DiskFaults, EvalAndEmbedOutputsOnAReadOnlyOrFullDisk) {
  ijepa::test::TempDir tmp;
  const fs::path e = experiment(tmp.path());
  const fs::path run = tmp / "run", out = tmp / "out";
  fs::create_directories(out);
  ASSERT_EQ(ijepa::test::run_ijepa({"train", e.string(), "--out", run.string(), "--quiet", "--set",
                                    "train.max_steps=2"})
                .rc,
            0);
  const std::string ckpt = (run / "checkpoints" / "latest.safetensors").string();
  const std::vector<std::string> eval{"eval", run.string(), "--evaluator", "knn", "--out", (out / "ev.json").string()};
  const std::vector<std::string> embed{"embed", "--checkpoint", ckpt, "--data", "synthetic", "--out",
                                       (out / "f.safetensors").string()};

  for (const auto& args : {eval, embed}) {
    SCOPED_TRACE(args[0]);
    const auto r = ijepa_with(read_only(out), args);
    EXPECT_EQ(r.rc, 2) << show(r);
    EXPECT_EQ(ijepa::test::count_lines(r.err), 1u) << show(r);
    EXPECT_TRUE(has(r.err, "the folder " + out.string() + " cannot be written: Read-only file system")) << show(r);
    EXPECT_FALSE(has(r.err, "features of")) << show(r);  // the work had not started
  }
  // Without --out, eval writes into RUN/eval: the run directory is checked the same way.
  const auto r = ijepa_with(read_only(run), {"eval", run.string(), "--evaluator", "knn"});
  EXPECT_EQ(r.rc, 2) << show(r);
  EXPECT_TRUE(has(r.err, "cannot be written: Read-only file system")) << show(r);

  for (const auto& [args, file] :
       {std::pair{eval, std::string("ev.json")}, std::pair{embed, std::string("f.safetensors")}}) {
    SCOPED_TRACE(args[0]);
    const auto f = ijepa_with({file, "write"}, args);
    EXPECT_EQ(f.rc, 1) << show(f);
    const auto errors = lines_with(f.err, "error");
    ASSERT_EQ(errors.size(), 1u) << show(f);
    EXPECT_TRUE(has(errors[0], "write failed: No space left on device")) << show(f);
    EXPECT_TRUE(names_in(out).empty()) << "left behind: " << names_in(out)[0];
  }
}

// A sweep whose <trial>.proc.json notes cannot be written warns and goes on: every trial completes, and a rerun
// reads the trials' own status.json and skips them.
TEST(DiskFaults, ASweepWhoseProcessNotesCannotBeWrittenGoesOn) {
  ijepa::test::TempDir tmp;
  json e = ijepa::test::tiny_experiment();
  e["train"]["max_steps"] = 2;
  e["data"]["workers"] = 1;
  e["sweep"] = {{"seeds", {0, 1}}};
  ijepa::test::write_text(tmp / "s.json", e.dump());
  const fs::path out = tmp / "sweep";
  const auto r = ijepa_with({"proc.json", "write,rename"}, {"sweep", (tmp / "s.json").string(), "--out", out.string()});
  EXPECT_EQ(r.rc, 0) << show(r);
  const auto warnings = lines_with(r.out + r.err, "ijepa sweep: warning: ");
  EXPECT_GE(warnings.size(), 2u) << show(r);
  for (const auto& w : warnings) {
    EXPECT_TRUE(has(w, ".proc.json: ")) << w;
    EXPECT_TRUE(has(w, "No space left on device (the sweep goes on")) << w;
  }
  EXPECT_TRUE(has(r.out + r.err, "2/2 trials completed")) << show(r);

  const auto again = ijepa::test::run_ijepa({"sweep", (tmp / "s.json").string(), "--out", out.string()});
  EXPECT_EQ(again.rc, 0) << show(again);
  EXPECT_TRUE(has(again.out + again.err, "0 to run, 2 completed, skipped")) << show(again);
}

// A trial stopped by a signal, then resumed by the next `ijepa sweep`, whose resumed session fails before its
// trainer writes anything (here: its run directory has become read-only, so the run lock cannot be taken). The run's
// status.json still says "interrupted" from the first session; the trial is "failed", with the trainer's line, in
// the progress line, its .proc.json and the summary alike (the summary used to say "interrupted"). The next sweep
// resumes it from its checkpoint.
TEST(DiskFaults, ATrialWhoseResumedSessionFailsIsRecordedFailed) {
  ijepa::test::TempDir tmp;
  json e = ijepa::test::tiny_experiment();
  e["train"]["max_steps"] = 4;
  e["data"]["synthetic_classes"] = 4;
  e["data"]["workers"] = 1;
  // The fixture evaluator sends its own process SIGINT during the evaluation of step 2 (IJEPA_FIXTURE_EVAL_SIGNAL).
  e["components"]["evaluators"] = json::array({{{"type", "signal_self"}, {"every_steps", 2}, {"at_end", false},
                                                {"random_init", false}, {"train_limit", 16}, {"test_limit", 8}}});
  e["sweep"] = {{"seeds", {0}}};
  ijepa::test::write_text(tmp / "s.json", e.dump());
  const fs::path out = tmp / "sweep", trial = out / "trials" / "s0";
  const std::vector<std::string> sweep{"sweep", (tmp / "s.json").string(), "--out", out.string(), "--plugin-dir",
                                       ijepa::test::fixture_dir("abort_after").string()};
  const auto summary_state = [&] {
    const std::string csv = ijepa::test::read_text(out / "summary.csv");
    const auto rows = lines_with(csv, "s0,");
    return rows.empty() ? std::string("(no row)\n") + csv : rows[0];
  };

  const auto first = ijepa_with({}, sweep, "IJEPA_FIXTURE_EVAL_SIGNAL=INT");
  EXPECT_NE(first.rc, 0) << show(first);
  ASSERT_EQ(status_of(trial)["state"], "interrupted") << show(first);
  EXPECT_TRUE(has(summary_state(), ",interrupted,")) << summary_state();

  const auto second = ijepa_with(read_only(trial / ""), sweep);
  EXPECT_NE(second.rc, 0) << show(second);
  EXPECT_TRUE(has(second.out, "FAILED s0: ")) << show(second);
  EXPECT_TRUE(has(second.out, "Read-only file system")) << show(second);
  EXPECT_EQ(status_of(trial)["state"], "interrupted") << "the trainer never wrote";
  const json proc = json::parse(ijepa::test::read_text(out / "trials" / "s0.proc.json"));
  EXPECT_EQ(proc["state"], "failed") << proc.dump(2);
  EXPECT_TRUE(has(proc.value("error", ""), "Read-only file system")) << proc.dump(2);
  EXPECT_TRUE(has(summary_state(), ",failed,")) << summary_state();
  EXPECT_TRUE(has(summary_state(), "Read-only file system")) << summary_state();

  const auto third = ijepa::test::run_ijepa(sweep);
  EXPECT_EQ(third.rc, 0) << show(third);
  EXPECT_TRUE(has(third.out, "1 to resume")) << show(third);
  EXPECT_EQ(status_of(trial)["state"], "completed");
  EXPECT_TRUE(has(summary_state(), ",completed,")) << summary_state();
}
