// `ijepa sweep` and `ijepa report` end to end through the real binary: tiny synthetic trials (2 steps, 1 thread,
// about a second each, one child `ijepa train` process per trial), re-runs, a crashing trial, a killed sweep.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "host/hosting/fixture_plugins.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/run/run_dir.hpp"
#include "ijepa/host/run/sweep_dir.hpp"

using namespace ijepa;
using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {

// The tiny experiment, 2 steps per trial, plus a sweep.
nlohmann::json sweep_experiment(const nlohmann::json& sweep) {
  nlohmann::json e = test::tiny_experiment();
  e["train"]["max_steps"] = 2;
  e["train"]["log_every"] = 1;
  e["data"]["workers"] = 1;
  e["sweep"] = sweep;
  return e;
}

// Every regular file under `dir`: relative path -> (content, mtime).
using Snapshot = std::map<std::string, std::pair<std::string, fs::file_time_type>>;
Snapshot snapshot(const fs::path& dir) {
  Snapshot s;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      s[fs::relative(e.path(), dir).string()] = {test::read_text(e.path()), fs::last_write_time(e.path())};
    }
  }
  return s;
}

// Only the entries of `s` whose path starts with `prefix`.
Snapshot only(const Snapshot& s, const std::string& prefix) {
  Snapshot out;
  for (const auto& [k, v] : s) {
    if (k.rfind(prefix, 0) == 0) out[k] = v;
  }
  return out;
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

int count_lines(const std::string& s) { return static_cast<int>(test::count_lines(s)); }

}  // namespace

TEST(SweepCli, DryRunPrintsTheTrialTableAndWritesNothing) {
  test::TempDir tmp;
  test::write_text(tmp / "e.json", sweep_experiment(nlohmann::json::parse(R"({
      "axes": {"components.masker.pred_mask_scale": [[0.15, 0.2], [0.2, 0.3]]}, "seeds": [0, 1]})"))
                                        .dump());
  const auto r = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", (tmp / "out").string(), "--dry-run"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  for (const char* n : {"pred_mask_scale0.15-0.2_s0", "pred_mask_scale0.15-0.2_s1", "pred_mask_scale0.2-0.3_s0",
                        "pred_mask_scale0.2-0.3_s1", "[0.15,0.2]", "dry run: nothing written"}) {
    EXPECT_NE(r.out.find(n), std::string::npos) << n << " in\n" << r.out;
  }
  EXPECT_LT(r.out.find("pred_mask_scale0.15-0.2_s1"), r.out.find("pred_mask_scale0.2-0.3_s0")) << "seeds innermost";
  EXPECT_FALSE(fs::exists(tmp / "out"));
  EXPECT_FALSE(fs::exists(tmp / "runs"));
}

TEST(SweepCli, BadInputIsOneLineAndCreatesNothing) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  auto attempt = [&](const nlohmann::json& sweep, const std::vector<std::string>& extra, int rc,
                     const std::vector<std::string>& needles) {
    test::write_text(tmp / "e.json", sweep_experiment(sweep).dump());
    std::vector<std::string> args{"sweep", (tmp / "e.json").string(), "--out", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = test::run_ijepa(args);
    EXPECT_EQ(r.rc, rc) << sweep.dump() << "\n" << r.out << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
    EXPECT_FALSE(fs::exists(out)) << sweep.dump();
  };
  attempt(R"({"axes": {"train.lrr": [1, 2]}})"_json, {}, 1, {"e.json: sweep.axes", "train.lrr"});
  attempt(R"({"axes": {"components.masker.min_keep": [4, "four"]}})"_json, {}, 1,
          {"trial 'min_keepfour_s3'", "min_keep"});
  attempt(R"({"mode": "list", "axes": {"train.lr": [1, 2], "train.epochs": [1]}})"_json, {}, 1, {"list"});
  attempt(R"({"mode": "zip", "axes": {"train.lr": [1]}})"_json, {}, 1, {"zip"});
  attempt(R"({"axes": {"train.lr": [1]}})"_json, {"--jobs", "0"}, 2, {"--jobs"});
  attempt(R"({"axes": {"train.lr": [1]}})"_json, {"--set", "train.nope=1"}, 1, {"train.nope"});
  // A report block naming a group the sweep does not have fails before any trial runs.
  attempt(R"({"axes": {"train.lr": [1, 2]}, "report": {"orderings": ["lr=1 > lr=3"]}})"_json, {}, 1,
          {"e.json: sweep.report.orderings 'lr=1 > lr=3'", "no group of trials matches 'lr=3'", "lr=1; lr=2"});
  attempt(R"({"axes": {"train.lr": [1, 2]}, "report": {"reference": "lr=5"}})"_json, {"--dry-run"}, 1,
          {"sweep.report.reference", "'lr=5'"});
  // What `ijepa train` would refuse (a value out of range, a patch that does not divide the image) is refused when
  // the sweep is planned, --dry-run included: no trial trains first, none is recorded as failed.
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--dry-run"}}) {
    attempt(R"({"axes": {"train.lr": [-1, 0.001]}})"_json, extra, 1, {"trial 'lr-1_s3'", "train.lr: must be >= 0"});
    attempt(R"({"axes": {"train.ema": [[0.996, 1.0], [1.5, 1.0]]}})"_json, extra, 1,
            {"train.ema: each momentum must be within [0, 1]"});
    attempt(R"({"axes": {"components.encoder.patch_size": [4, 5]}})"_json, extra, 1,
            {"components.encoder.patch_size (5) does not divide data.image_size"});
    attempt(R"({"axes": {"train.lr": [0.001]}})"_json, {"--set", "train.batch_size=0"}, 1,
            {"train.batch_size: must be > 0"});
    // A value the masker's factory refuses for the grid (it trained trial 0, then failed trial 1).
    attempt(R"({"axes": {"components.masker.min_keep": [4, 100]}})"_json, extra, 1,
            {"trial 'min_keep100_s3'", "components.masker", "min_keep"});
    // ... named as the sweep axis's value, not as the base file's that set the key before the sweep (it named the
    // base file, which holds min_keep 4).
    {
      nlohmann::json base = sweep_experiment(nlohmann::json::object());
      base.erase("sweep");
      test::write_text(tmp / "base.json", base.dump());
      test::write_text(tmp / "axis.json", nlohmann::json({{"schema_version", 1}, {"base", {"base.json"}},
                                                           {"sweep", {{"axes", {{"components.masker.min_keep",
                                                                                 {4, 100}}}}}}})
                                               .dump());
      std::vector<std::string> args{"sweep", (tmp / "axis.json").string(), "--out", out.string()};
      args.insert(args.end(), extra.begin(), extra.end());
      const auto r = test::run_ijepa(args);
      EXPECT_EQ(r.rc, 1) << r.out << r.err;
      EXPECT_NE(r.err.find("axis.json: trial 'min_keep100_s3': " + (tmp / "axis.json").string() +
                           " (sweep axis components.masker.min_keep), "),
                std::string::npos)
          << r.err;
      EXPECT_EQ(r.err.find("base.json (components.masker"), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(out));
    }
    // Values only the encoder's, predictor's or loss's factory checks: the last trial's model is built in the plan
    // too (it failed after the other trials had trained).
    attempt(R"({"axes": {"components.encoder.num_heads": [2, 3]}})"_json, extra, 1,
            {"trial 'num_heads3_s3'", "components.encoder: encoder/vit",
             "'num_heads': 3 does not divide embed_dim 32"});
    attempt(R"({"axes": {"components.predictor.depth": [1, -1]}})"_json, extra, 1,
            {"trial 'depth-1_s3'", "components.predictor: predictor/vit_predictor", "'depth': must be > 0, got -1"});
    attempt(R"({"axes": {"components.predictor.output_dim": [0, 24]}})"_json, extra, 1,
            {"trial 'output_dim24_s3'", "components.predictor: output width 24 but loss/smooth_l1 expects 32"});
    attempt(R"({"axes": {"components.loss.beta": [1, -1]}})"_json, extra, 1,
            {"trial 'beta-1_s3'", "components.loss: loss/smooth_l1", "'beta': must be > 0"});
  }
  // A file that is not a sweep.
  test::write_text(tmp / "plain.json", test::tiny_experiment().dump());
  const auto r = test::run_ijepa({"sweep", (tmp / "plain.json").string(), "--out", out.string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("no \"sweep\" object"), std::string::npos) << r.err;
  // A base file that does not exist.
  test::write_text(tmp / "child.json", R"({"base": ["missing_base.json"], "sweep": {"seeds": [0]}})");
  const auto r2 = test::run_ijepa({"sweep", (tmp / "child.json").string(), "--out", out.string()});
  EXPECT_EQ(r2.rc, 1);
  EXPECT_NE(r2.err.find("missing_base.json: file not found"), std::string::npos) << r2.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(SweepCli, RunsTrialsThenSkipsThemAndReportRegeneratesTheSameFiles) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  // list mode with "seed" as an axis: two seeds of lr 0.001, one of lr 0.002.
  test::write_text(tmp / "e.json", sweep_experiment(nlohmann::json::parse(R"({"mode": "list",
      "axes": {"train.lr": [0.001, 0.001, 0.002], "seed": [0, 1, 0]}})"))
                                        .dump());
  const std::vector<std::string> names{"seed0_lr0.001", "seed1_lr0.001", "seed0_lr0.002"};
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string(), "--jobs", "2"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  std::cerr << "[ info ] 3 trials, --jobs 2: "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  EXPECT_NE(r.out.find("3 to run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 at a time, "), std::string::npos) << r.out;  // and each child's share of the cores
  EXPECT_NE(r.out.find(" intra-op threads each"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3/3 trials completed"), std::string::npos) << r.out;
  // sweep.json and one ordinary run directory per trial, made by a child `ijepa train`.
  const nlohmann::json sj = load_json_file(out / "sweep.json");
  EXPECT_EQ(sj["format"], "ijepa-sweep");
  EXPECT_EQ(sj["version"], 1);
  EXPECT_EQ(sj["source"], (tmp / "e.json").string());
  ASSERT_EQ(sj["trials"].size(), 3u);
  for (std::size_t i = 0; i < names.size(); ++i) {
    const nlohmann::json& t = sj["trials"][i];
    EXPECT_EQ(t["name"], names[i]);
    const fs::path run = out / "trials" / names[i];
    EXPECT_EQ(load_json_file(run / "status.json")["state"], "completed") << names[i];
    const nlohmann::json resolved = load_json_file(run / "config.resolved.json");
    EXPECT_EQ(first_difference(resolved, load_json_file(out / "trials" / (names[i] + ".json"))), "");
    EXPECT_EQ(t["config_sha"], config_hash(load_json_file(out / "trials" / (names[i] + ".json"))));
    EXPECT_FALSE(resolved.contains("sweep"));
    EXPECT_EQ(resolved["seed"], t["seed"]);
    EXPECT_EQ(resolved["train"]["lr"], t["values"]["train.lr"]);
    const nlohmann::json env = load_json_file(run / "env.json");
    EXPECT_NE(env.dump().find("--quiet"), std::string::npos) << "run by `ijepa train ... --quiet`: " << env.dump();
    EXPECT_EQ(read_jsonl(run / "metrics.jsonl").size(), 2u);
    EXPECT_EQ(load_json_file(out / "trials" / (names[i] + ".proc.json"))["exit_code"], 0);
  }
  // Summary: one record per trial; the two seeds of lr 0.001 are grouped with mean ± std.
  const auto recs = read_jsonl(out / "summary.jsonl");
  ASSERT_EQ(recs.size(), 3u);
  for (const auto& rec : recs) {
    EXPECT_EQ(rec["state"], "completed");
    EXPECT_TRUE(rec["final_loss"].is_number());
    EXPECT_TRUE(rec["seconds"].is_number());
    EXPECT_TRUE(rec["images_per_s"].is_number());
    EXPECT_EQ(rec["step"], 2);
  }
  const std::string md = test::read_text(out / "summary.md");
  EXPECT_NE(md.find("| 0.001 | 0 1 | 2/2 | "), std::string::npos) << md;
  EXPECT_NE(md.find("| 0.002 | 0 | 1/1 | "), std::string::npos) << md;
  EXPECT_NE(md.find(" (1) |"), std::string::npos) << "a single seed's value is marked, with no interval\n" << md;
  const std::string csv = test::read_text(out / "summary.csv");
  EXPECT_EQ(count_lines(csv), 4);
  // The "seed" axis is the seed column, once.
  EXPECT_EQ(csv.substr(0, csv.find('\n')).rfind("index,name,train.lr,seed,state,", 0), 0u) << csv;
  EXPECT_NE(md.find("| # | trial | lr | seed | state |"), std::string::npos) << md;
  // So it is in the dry run's table (read-only).
  const auto dry = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string(), "--dry-run"});
  ASSERT_EQ(dry.rc, 0) << dry.out << dry.err;
  const auto h = dry.out.find("  #");
  ASSERT_NE(h, std::string::npos) << dry.out;
  const std::string head = dry.out.substr(h, dry.out.find('\n', h) - h);
  EXPECT_NE(head.find(" lr "), std::string::npos) << head;
  EXPECT_NE(head.find(" seed"), std::string::npos) << head;
  EXPECT_EQ(head.find(" seed"), head.rfind(" seed")) << head;

  // Re-run: every trial completed with the same config is skipped; the trials' files are untouched.
  const Snapshot before = snapshot(out);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a rewrite would get another mtime
  const auto r2 = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  ASSERT_EQ(r2.rc, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("0 to run, 3 completed, skipped"), std::string::npos) << r2.out;
  EXPECT_EQ(snapshot(out), before) << "nothing is rewritten: trials, sweep.json, summaries";

  // `ijepa report` regenerates byte-identical summaries.
  for (const char* f : {"summary.jsonl", "summary.md", "summary.csv", "summary_grouped.csv"}) fs::remove(out / f);
  const auto rep = test::run_ijepa({"report", out.string()});
  ASSERT_EQ(rep.rc, 0) << rep.out << rep.err;
  for (const char* f : {"summary.jsonl", "summary.md", "summary.csv", "summary_grouped.csv"}) {
    EXPECT_EQ(test::read_text(out / f), before.at(f).first) << f;
  }
  EXPECT_NE(rep.out.find("## Grouped over seeds"), std::string::npos) << rep.out;

  // A re-worded description changes no trial's maths: still skipped, no trial or summary rewritten (sweep.json
  // records the plan's config hashes, so it follows the new words).
  const std::string e_text = test::read_text(tmp / "e.json");
  nlohmann::json reworded = nlohmann::json::parse(e_text);
  reworded["description"] = "the same trials, described anew";
  test::write_text(tmp / "e.json", reworded.dump());
  Snapshot before2b = snapshot(out);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto r2b = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  ASSERT_EQ(r2b.rc, 0) << r2b.out << r2b.err;
  EXPECT_NE(r2b.out.find("0 to run, 3 completed, skipped"), std::string::npos) << r2b.out;
  Snapshot after2b = snapshot(out);
  before2b.erase("sweep.json");
  after2b.erase("sweep.json");
  EXPECT_EQ(after2b, before2b);
  test::write_text(tmp / "e.json", e_text);

  // Trials recorded by an older build, before a plugin key or a train key existed, count that key as its default:
  // still skipped (a key added to an evaluator made every earlier sweep with it refuse to go on).
  for (const auto& n : names) {
    const fs::path f = out / "trials" / n / "config.resolved.json";
    nlohmann::json old = load_json_file(f);
    ASSERT_EQ(old["components"]["masker"]["allow_overlap"], false) << "the multiblock default";
    old["components"]["masker"].erase("allow_overlap");
    old["train"].erase("tensorboard");
    test::write_text(f, old.dump(2) + "\n");
  }
  const auto r2c = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  ASSERT_EQ(r2c.rc, 0) << r2c.out << r2c.err;
  EXPECT_NE(r2c.out.find("0 to run, 3 completed, skipped"), std::string::npos) << r2c.out;
  // ... but not where the trial sets the key to another value than the default.
  const auto r2d = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string(), "--dry-run", "--set",
                                    "components.masker.allow_overlap=true"});
  EXPECT_NE(r2d.out.find("its config changed at 'components.masker.allow_overlap'"), std::string::npos)
      << r2d.out << r2d.err;

  // A changed config is an error naming a trial and the key; nothing is touched.
  const Snapshot before3 = snapshot(out);
  const auto r3 = test::run_ijepa(
      {"sweep", (tmp / "e.json").string(), "--out", out.string(), "--set", "train.weight_decay=0.05"});
  EXPECT_EQ(r3.rc, 1);
  EXPECT_EQ(count_lines(r3.err), 1) << r3.err;
  EXPECT_NE(r3.err.find("trial 'seed0_lr0.001' (completed): its config changed at 'train.weight_decay'"),
            std::string::npos)
      << r3.err;
  EXPECT_EQ(snapshot(out), before3);
  // A completed trial ran to its stopping point: another train.max_steps asks for other results (while resuming an
  // interrupted trial may move it).
  const auto r3b =
      test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string(), "--set", "train.max_steps=1"});
  EXPECT_EQ(r3b.rc, 1);
  EXPECT_NE(r3b.err.find("its config changed at 'train.max_steps'"), std::string::npos) << r3b.err;
  EXPECT_EQ(snapshot(out), before3);
  // The dry run says the same, and what the others would do.
  const auto r4 = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string(), "--dry-run"});
  EXPECT_EQ(r4.rc, 0) << r4.err;
  EXPECT_NE(r4.out.find("skip"), std::string::npos) << r4.out;
  // A folder under trials/ that is no trial of this sweep (one dropped from the file): both say so, and leave it.
  fs::create_directories(out / "trials" / "dropped_trial");
  const std::string note = "note: " + (out / "trials" / "dropped_trial").string() + " is not a trial of this sweep";
  const auto r5 = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string(), "--dry-run"});
  EXPECT_EQ(r5.rc, 0) << r5.err;
  EXPECT_NE(r5.out.find(note), std::string::npos) << r5.out;
  const auto r6 = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  EXPECT_EQ(r6.rc, 0) << r6.err;
  EXPECT_NE(r6.out.find(note), std::string::npos) << r6.out;
  EXPECT_TRUE(fs::is_directory(out / "trials" / "dropped_trial"));
}

// Completed trials trained with another build of a plugin than the one loaded now (a loss rebuilt after a fix) are
// skipped as before, with a note naming the plugin, both SHA-256s and the trials, in the run and the dry run alike;
// without it the sweep's results from the old build stood with no word.
TEST(SweepCli, CompletedTrialsOfAnotherPluginBuildAreNamed) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  test::write_text(tmp / "e.json", sweep_experiment(nlohmann::json::parse(R"({"seeds": [0, 1]})")).dump());
  const std::vector<std::string> sweep{"sweep", (tmp / "e.json").string(), "--out", out.string()};
  ASSERT_EQ(test::run_ijepa(sweep).rc, 0);
  const auto again = test::run_ijepa(sweep);
  ASSERT_EQ(again.rc, 0) << again.out << again.err;
  EXPECT_EQ(again.out.find("note: "), std::string::npos) << "the same build: no note\n" << again.out;
  // Trial s1 as if trained with another file of the loss plugin.
  const fs::path env_file = out / "trials" / "s1" / "env.json";
  nlohmann::json env = load_json_file(env_file);
  std::string id;
  for (auto& p : env["plugins"]) {
    const std::string path = p["path"].get<std::string>();
    if (path.find("loss_representation") != std::string::npos) {
      p["sha256"] = std::string(64, 'a');
      id = p["id"].get<std::string>();
    } else if (path.find("eval_probes") != std::string::npos) {
      p["sha256"] = std::string(64, 'b');  // rebuilt too, but the trial uses no evaluator: no note for it
    }
  }
  ASSERT_FALSE(id.empty()) << env.dump();
  test::write_text(env_file, env.dump(2));
  for (const bool dry : {true, false}) {
    std::vector<std::string> args = sweep;
    if (dry) args.push_back("--dry-run");
    const auto r = test::run_ijepa(args);
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    const std::string want = "note: 1 completed trial (s1) was trained with another build of plugin " + id +
                             " (sha256 aaaaaaaaaaaa then, ";
    EXPECT_NE(r.out.find(want), std::string::npos) << (dry ? "dry run\n" : "run\n") << r.out;
    EXPECT_NE(r.out.find("now); it is kept as it is: remove its directory under "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("note: ", r.out.find(want) + 1), std::string::npos) << "one note\n" << r.out;
  }
}

TEST(SweepCli, ADirectoryOfAnotherSweepFileIsRefusedUntouched) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  test::write_text(tmp / "e.json", sweep_experiment(R"({"axes": {"train.lr": [0.001]}})"_json).dump());
  const auto r = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const Snapshot before = snapshot(out);
  // Another sweep file into the same directory: its trials would replace sweep.json and the summaries.
  test::write_text(tmp / "f.json", sweep_experiment(R"({"axes": {"train.lr": [0.002]}})"_json).dump());
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, std::vector<std::string>{"--dry-run"}}) {
    std::vector<std::string> args{"sweep", (tmp / "f.json").string(), "--out", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r2 = test::run_ijepa(args);
    EXPECT_EQ(r2.rc, 1) << r2.out << r2.err;
    EXPECT_EQ(count_lines(r2.err), 1) << r2.err;
    EXPECT_NE(r2.err.find(out.string() + ": holds the sweep of " + (tmp / "e.json").string() + ", not of " +
                          (tmp / "f.json").string()),
              std::string::npos)
        << r2.err;
  }
  EXPECT_EQ(snapshot(out), before);
  // The same file under another path (a link, another working directory) is the same sweep: its trials are skipped.
  fs::create_symlink(tmp / "e.json", tmp / "link.json");
  const auto r3 = test::run_ijepa({"sweep", (tmp / "link.json").string(), "--out", out.string(), "--dry-run"});
  EXPECT_EQ(r3.rc, 0) << r3.out << r3.err;
  EXPECT_NE(r3.out.find("dry run: nothing written"), std::string::npos) << r3.out;
  // A run directory is no sweep directory, for --dry-run as for the run.
  const auto r4 = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", (out / "trials" / "lr0.001_s3").string(),
                                   "--dry-run"});
  EXPECT_EQ(r4.rc, 1) << r4.out << r4.err;
  EXPECT_NE(r4.err.find("is not a sweep directory"), std::string::npos) << r4.err;
  // A renamed sweep file (the recorded path names no file any more) still owns its directory: same experiment name.
  fs::remove(tmp / "link.json");
  fs::rename(tmp / "e.json", tmp / "renamed.json");
  const auto r6 = test::run_ijepa({"sweep", (tmp / "renamed.json").string(), "--out", out.string(), "--dry-run"});
  EXPECT_EQ(r6.rc, 0) << r6.out << r6.err;
  // A damaged status.json (status files are replaced atomically, so not a write in progress) is named in the
  // summary, not passed off as a killed process.
  test::write_text(out / "trials" / "lr0.001_s3" / "status.json", "{\"state\": \"compl");
  const auto r5 = test::run_ijepa({"report", out.string()});
  EXPECT_EQ(r5.rc, 0) << r5.out << r5.err;
  const auto recs = read_jsonl(out / "summary.jsonl");
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0]["state"], "interrupted");
  EXPECT_NE(recs[0].value("error", "").find("status.json is not a JSON object (damaged)"), std::string::npos)
      << recs[0].dump();
}

TEST(SweepCli, CrashingTrialIsRecordedAndTheOthersComplete) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  // An axis of whole masker objects: the second trial's masker aborts the process at batch 12 (of 16), well after
  // its run directory exists (the loader prefetches 4 batches).
  nlohmann::json e = sweep_experiment(nlohmann::json::parse(R"({
      "axes": {"components.masker": [{"type": "multiblock", "min_keep": 4}, {"type": "abort_after", "abort_at": 12}]},
      "name_template": "{components.masker.type}_s{seed}"})"));
  e["train"]["max_steps"] = 16;
  test::write_text(tmp / "e.json", e.dump());
  const std::string plugins = test::fixture_dir("abort_after").string();
  const std::vector<std::string> args{"sweep", (tmp / "e.json").string(), "--out", out.string(), "--plugin-dir", plugins};
  const auto r = test::run_ijepa(args);
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAILED abort_after_s3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1/2 trials completed"), std::string::npos) << r.out;
  // The failure is on stderr too (stdout may be a log), one line naming the trial and where its log is.
  EXPECT_NE(r.err.find("ijepa sweep: error: 1 of 2 trials did not complete (abort_after_s3); their logs are " +
                       (out / "trials").string() + "/NAME.log"),
            std::string::npos)
      << r.err;
  const auto recs = read_jsonl(out / "summary.jsonl");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["name"], "multiblock_s3");
  EXPECT_EQ(recs[0]["state"], "completed");
  EXPECT_EQ(recs[1]["name"], "abort_after_s3");
  EXPECT_EQ(recs[1]["state"], "failed");
  ASSERT_TRUE(recs[1]["error"].is_string());
  EXPECT_NE(recs[1]["error"].get<std::string>().find("SIGABRT"), std::string::npos) << recs[1]["error"];
  const fs::path log = out / "trials" / "abort_after_s3.log";
  EXPECT_NE(last_line(log).find("SIGABRT"), std::string::npos) << test::read_text(log);
  const nlohmann::json proc = load_json_file(out / "trials" / "abort_after_s3.proc.json");
  EXPECT_EQ(proc["state"], "failed");
  EXPECT_EQ(proc["signal"], SIGABRT);
  // The crashed run's status.json says how it ended (not a stale "running").
  const nlohmann::json st = load_json_file(out / "trials" / "abort_after_s3" / "status.json");
  EXPECT_EQ(st["state"], "failed");
  EXPECT_NE(st.value("error", "").find("SIGABRT"), std::string::npos) << st.dump();
  EXPECT_LT(st.value("step", 99), 16);
  EXPECT_NE(test::read_text(out / "summary.md").find("| failed |"), std::string::npos);

  // Re-run: the completed trial is untouched; the failed one (killed after a checkpoint, as an OOM kill would) resumes
  // from that checkpoint instead of step 0 (and crashes again at batch 12), its log continued.
  const Snapshot before = only(snapshot(out), "trials/multiblock_s3");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto r2 = test::run_ijepa(args);
  EXPECT_EQ(r2.rc, 1) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("1 to resume, 1 completed, skipped"), std::string::npos) << r2.out;
  EXPECT_EQ(only(snapshot(out), "trials/multiblock_s3"), before);
  EXPECT_NE(test::read_text(log).find("resuming trial abort_after_s3"), std::string::npos) << test::read_text(log);
  EXPECT_NE(last_line(log).find("SIGABRT"), std::string::npos);
  // --restart-failed: from step 0, the old log kept.
  std::vector<std::string> restart = args;
  restart.push_back("--restart-failed");
  const auto r3 = test::run_ijepa(restart);
  EXPECT_EQ(r3.rc, 1) << r3.out << r3.err;
  EXPECT_NE(r3.out.find("1 failed before, to run again, 1 completed, skipped"), std::string::npos) << r3.out;
  EXPECT_EQ(only(snapshot(out), "trials/multiblock_s3"), before);
  EXPECT_NE(test::read_text(out / "trials" / "abort_after_s3.log.1").find("SIGABRT"), std::string::npos);
  EXPECT_NE(last_line(log).find("SIGABRT"), std::string::npos);
}

namespace {
// `ijepa sweep CFG --out OUT` in a child process (its output into LOG; in a process group of its own when asked):
// its pid, for a test that kills it.
pid_t start_sweep(const fs::path& cfg, const fs::path& out, const fs::path& log, bool own_group) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (own_group) ::setpgid(0, 0);
    ::unsetenv("IJEPA_PLUGIN_PATH");
    ::setenv("IJEPA_LOG_LEVEL", "warn", 1);
    const std::string c = cfg.string(), o = out.string(), l = log.string();
    std::FILE* f = std::freopen(l.c_str(), "w", stdout);
    (void)f;
    ::dup2(STDOUT_FILENO, STDERR_FILENO);
    ::execl(IJEPA_CLI_EXE, IJEPA_CLI_EXE, "sweep", c.c_str(), "--out", o.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid > 0 && own_group) ::setpgid(pid, pid);
  return pid;
}
}  // namespace

TEST(SweepCli, KilledSweepResumesItsInterruptedTrialAndLeavesCompletedOnes) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  nlohmann::json e = sweep_experiment(nlohmann::json::parse(R"({"axes": {"train.max_steps": [2, 120]}})"));
  e["train"]["epochs"] = 20;  // 160 steps of 8 images; a checkpoint after every step
  e["train"]["checkpoint_every"] = 1;
  test::write_text(tmp / "e.json", e.dump());
  const std::string long_trial = "max_steps120_s3";
  const fs::path long_run = out / "trials" / long_trial;

  // The sweep in its own process group, so the test can SIGKILL the group (the sweep and its child).
  const pid_t pid = start_sweep(tmp / "e.json", out, tmp / "sweep.out", /*own_group=*/true);
  ASSERT_GE(pid, 0);
  bool killed = false;
  for (int i = 0; i < 6000 && !killed; ++i) {  // at most 60 s
    std::ifstream latest(long_run / "checkpoints" / "LATEST");
    std::string name;
    if (latest && std::getline(latest, name) && name >= "step_00000005") {
      ::kill(-pid, SIGKILL);
      killed = true;
      break;
    }
    if (::waitpid(pid, nullptr, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(killed) << "the sweep ended before it could be killed: " << test::read_text(tmp / "sweep.out");
  // Wait until the killed trainer is gone (its run lock released).
  for (int i = 0; i < 500 && lock_holder(long_run / ".lock"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(lock_holder(long_run / ".lock").has_value());
  EXPECT_EQ(load_json_file(long_run / "status.json")["state"], "running") << "killed: no final status";
  EXPECT_EQ(inspect_trial(out, long_trial).state, "interrupted");
  const std::int64_t ckpt_step = [&] {
    std::ifstream in(long_run / "checkpoints" / "LATEST");
    std::string s;
    std::getline(in, s);
    return std::stoll(s.substr(5));
  }();
  EXPECT_LT(ckpt_step, 120);
  std::vector<std::string> metrics_before;
  {
    std::ifstream in(long_run / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) metrics_before.push_back(line);
  }

  const Snapshot done_before = only(snapshot(out), "trials/max_steps2_s3");
  ASSERT_FALSE(done_before.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto r = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 to run, 1 to resume, 1 completed, skipped"), std::string::npos) << r.out;
  EXPECT_EQ(only(snapshot(out), "trials/max_steps2_s3"), done_before) << "the completed trial is untouched";
  // The interrupted trial continued from its checkpoint: its metrics run 1..120 once each, in order.
  const nlohmann::json status = load_json_file(long_run / "status.json");
  EXPECT_EQ(status["state"], "completed");
  EXPECT_EQ(status["step"], 120);
  const auto metrics = read_jsonl(long_run / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), 120u);
  for (std::size_t i = 0; i < metrics.size(); ++i) EXPECT_EQ(metrics[i]["step"], static_cast<int>(i) + 1);
  const std::string log = test::read_text(out / "trials" / (long_trial + ".log"));
  EXPECT_NE(log.find("resuming trial " + long_trial), std::string::npos) << log;
  // Resumed from the checkpoint, not from scratch: the records up to it are the first session's lines, byte for
  // byte (a recomputation would have other "time_s" values).
  const std::string metrics_after = test::read_text(long_run / "metrics.jsonl");
  ASSERT_GE(metrics_before.size(), static_cast<std::size_t>(ckpt_step));
  std::string prefix;
  for (std::int64_t i = 0; i < ckpt_step; ++i) prefix += metrics_before[static_cast<std::size_t>(i)] + "\n";
  EXPECT_EQ(metrics_after.substr(0, prefix.size()), prefix);
}

// The sweep alone killed outright (its trial not): the trial gets SIGTERM as its parent dies, checkpoints and stops
// instead of training on unattended (a rerun said "trial is running (pid N): wait for it or stop it first"); the
// next run then brings the trial's .proc.json in line.
TEST(SweepCli, ASweepKilledOutrightStopsItsTrials) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  nlohmann::json e = sweep_experiment(nlohmann::json::parse(R"({"axes": {"train.max_steps": [400]}})"));
  e["train"]["epochs"] = 60;
  e["train"]["checkpoint_every"] = 1;
  test::write_text(tmp / "e.json", e.dump());
  const fs::path run = out / "trials" / "max_steps400_s3";
  const pid_t pid = start_sweep(tmp / "e.json", out, tmp / "sweep.out", /*own_group=*/false);
  ASSERT_GE(pid, 0);
  bool killed = false;
  for (int i = 0; i < 6000 && !killed; ++i) {  // at most 60 s
    std::ifstream latest(run / "checkpoints" / "LATEST");
    std::string name;
    if (latest && std::getline(latest, name) && name >= "step_00000003") {
      ::kill(pid, SIGKILL);  // the sweep only
      killed = true;
    }
    if (!killed && ::waitpid(pid, nullptr, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(killed) << "the sweep ended before it could be killed: " << test::read_text(tmp / "sweep.out");
  for (int i = 0; i < 3000 && lock_holder(run / ".lock"); ++i) {  // at most 30 s
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(lock_holder(run / ".lock").has_value()) << "the trial trains on without its sweep";
  const nlohmann::json status = load_json_file(run / "status.json");
  EXPECT_EQ(status["state"], "interrupted") << status.dump();
  EXPECT_LT(status["step"].get<std::int64_t>(), 400);
  EXPECT_EQ(load_json_file(out / "trials" / "max_steps400_s3.proc.json")["state"], "running") << "the sweep was killed";
  // A run that finds the trial completed (here: marked so by hand, as a trial outliving its sweep would leave it)
  // records that in the stale .proc.json.
  nlohmann::json done = status;
  done["state"] = "completed";
  done["step"] = 400;
  test::write_text(run / "status.json", done.dump());
  const auto r = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const nlohmann::json proc = load_json_file(out / "trials" / "max_steps400_s3.proc.json");
  EXPECT_EQ(proc["state"], "completed") << proc.dump();
  EXPECT_EQ(proc["recorded_state"], "running") << proc.dump();
}

TEST(SweepCli, ReuseCopiesACompletedRunWithTheSameConfigInsteadOfTrainingIt) {
  test::TempDir tmp;
  // Sweep A: lr 0.001 and 0.002. Sweep B, another file with another name and description: lr 0.001 (A's trial, the
  // same maths) and 0.003 (new).
  nlohmann::json ea = sweep_experiment(R"({"axes": {"train.lr": [0.001, 0.002]}})"_json);
  test::write_text(tmp / "a.json", ea.dump());
  const fs::path a = tmp / "runs" / "a";
  const auto ra = test::run_ijepa({"sweep", (tmp / "a.json").string(), "--out", a.string()});
  ASSERT_EQ(ra.rc, 0) << ra.out << ra.err;
  const nlohmann::json sja = load_json_file(a / "sweep.json");
  const std::string a_same = sja["trials"][0]["name"], a_other = sja["trials"][1]["name"];
  {  // as an older build wrote it, before the masker's allow_overlap existed: the key counts as its default (false)
    const fs::path f = a / "trials" / a_same / "config.resolved.json";
    nlohmann::json old = load_json_file(f);
    old["components"]["masker"].erase("allow_overlap");
    test::write_text(f, old.dump(2) + "\n");
  }
  nlohmann::json eb = sweep_experiment(R"({"axes": {"train.lr": [0.001, 0.003]}})"_json);
  eb["name"] = "b_ablation";  // a label, as the description is
  eb["description"] = "another ablation that shares its baseline with sweep a";
  test::write_text(tmp / "b.json", eb.dump());
  const fs::path b = tmp / "b";
  const std::vector<std::string> args{"sweep", (tmp / "b.json").string(), "--out", b.string(), "--reuse", a.string()};

  // The dry run says which trial is copied and from where, and writes nothing.
  std::vector<std::string> dry = args;
  dry.push_back("--dry-run");
  const auto rd = test::run_ijepa(dry);
  ASSERT_EQ(rd.rc, 0) << rd.out << rd.err;
  const fs::path src = fs::canonical(a / "trials" / a_same);  // as the sweep names it: its real directory
  EXPECT_NE(rd.out.find("reuse " + src.string()), std::string::npos) << rd.out;
  EXPECT_EQ(rd.out.find((a / "trials" / a_other).string()), std::string::npos) << "lr 0.002 is not B's\n" << rd.out;
  EXPECT_FALSE(fs::exists(b));

  const Snapshot a_before = snapshot(a);
  const auto rb = test::run_ijepa(args);
  ASSERT_EQ(rb.rc, 0) << rb.out << rb.err;
  EXPECT_NE(rb.out.find("1 to run, 1 copied from completed runs with the same config (--reuse)"), std::string::npos)
      << rb.out;
  EXPECT_NE(rb.out.find("reused " + std::string(load_json_file(b / "sweep.json")["trials"][0]["name"]) + ": a copy of " +
                        src.string()),
            std::string::npos)
      << rb.out;
  EXPECT_NE(rb.out.find("2/2 trials completed"), std::string::npos) << rb.out;
  EXPECT_EQ(snapshot(a), a_before) << "the source is only read";
  const nlohmann::json sjb = load_json_file(b / "sweep.json");
  const std::string b_same = sjb["trials"][0]["name"], b_new = sjb["trials"][1]["name"];
  // The reused trial is a copy of the source run, byte for byte but for the labels of its config, and says where it
  // came from.
  Snapshot copy = snapshot(b / "trials" / b_same);
  Snapshot orig = snapshot(src);
  orig.erase(".lock");  // the source's lock file is not copied
  nlohmann::json relabelled = load_json_file(src / "config.resolved.json");
  relabelled["name"] = "b_ablation";
  relabelled["description"] = eb["description"];
  EXPECT_EQ(load_json_file(b / "trials" / b_same / "config.resolved.json"), relabelled);
  copy.erase("config.resolved.json");
  orig.erase("config.resolved.json");
  nlohmann::json moved = load_json_file(src / "status.json");  // status.json: where the run is
  ASSERT_TRUE(moved.contains("run_dir")) << moved.dump();
  moved["run_dir"] = fs::absolute(b / "trials" / b_same).lexically_normal().string();
  EXPECT_EQ(load_json_file(b / "trials" / b_same / "status.json"), moved);
  copy.erase("status.json");
  orig.erase("status.json");
  ASSERT_EQ(copy.size(), orig.size());
  for (const auto& [rel, v] : orig) {
    ASSERT_TRUE(copy.count(rel)) << rel;
    EXPECT_EQ(copy.at(rel).first, v.first) << rel;
  }
  EXPECT_TRUE(fs::is_symlink(b / "trials" / b_same / "checkpoints" / "latest.safetensors"));
  const nlohmann::json proc = load_json_file(b / "trials" / (b_same + ".proc.json"));
  EXPECT_EQ(proc["state"], "completed");
  EXPECT_EQ(proc["reused_from"], src.string());
  const std::string log = test::read_text(b / "trials" / (b_same + ".log"));
  EXPECT_NE(log.find("trial reused at "), std::string::npos) << log;
  EXPECT_NE(log.find(test::read_text(a / "trials" / (a_same + ".log"))), std::string::npos) << "the source's log follows";
  // The new trial trained; the summary has both, the copy with the source's figures.
  EXPECT_EQ(read_jsonl(b / "trials" / b_new / "metrics.jsonl").size(), 2u);
  EXPECT_FALSE(load_json_file(b / "trials" / (b_new + ".proc.json")).contains("reused_from"));
  const auto recs = read_jsonl(b / "summary.jsonl");
  const auto recs_a = read_jsonl(a / "summary.jsonl");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["state"], "completed");
  EXPECT_EQ(recs[0]["final_loss"], recs_a[0]["final_loss"]);
  EXPECT_EQ(recs[1]["state"], "completed");
  // A trial that failed before it had a checkpoint (killed with a copy half made: a <name>.tmp-reuse-<pid>
  // directory is left) is taken again from the source: the leftover goes, the failed attempt's log is kept.
  fs::remove_all(b / "trials" / b_same);
  test::write_text(b / "trials" / (b_same + ".proc.json"), R"({"state": "failed", "error": "killed by signal SIGKILL"})");
  test::write_text(b / "trials" / (b_same + ".log"), "the failed attempt\n");
  const fs::path leftover = b / "trials" / (b_same + ".tmp-reuse-999999");
  fs::create_directories(leftover / "checkpoints");
  test::write_text(leftover / ".ijepa-partial", partial_marker_text(999999));  // the mark of a folder being built
  const auto rb1 = test::run_ijepa(args);
  ASSERT_EQ(rb1.rc, 0) << rb1.out << rb1.err;
  EXPECT_NE(rb1.out.find("0 to run, 1 completed, skipped, 1 copied"), std::string::npos) << rb1.out;
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_EQ(load_json_file(b / "trials" / b_same / "status.json")["state"], "completed");
  EXPECT_EQ(test::read_text(b / "trials" / (b_same + ".log.1")), "the failed attempt\n");
  // Run again without --reuse: both are this sweep's completed trials now.
  const auto rb2 = test::run_ijepa({"sweep", (tmp / "b.json").string(), "--out", b.string()});
  ASSERT_EQ(rb2.rc, 0) << rb2.out << rb2.err;
  EXPECT_NE(rb2.out.find("0 to run, 2 completed, skipped"), std::string::npos) << rb2.out;

  // A directory of sweeps and runs is searched two levels down: tmp/runs holds sweep a, and tmp/runs/single/r1 a
  // run of `ijepa train` (no sweep log beside it) with lr 0.003, B's other trial.
  nlohmann::json single = sweep_experiment(R"({"seeds": [0]})"_json);
  single.erase("sweep");
  single["train"]["lr"] = 0.003;
  single["seed"] = sja["trials"][0]["seed"];
  test::write_text(tmp / "single.json", single.dump());
  const fs::path r1 = tmp / "runs" / "single" / "r1";
  const auto rt = test::run_ijepa({"train", (tmp / "single.json").string(), "--out", r1.string(), "--quiet"});
  ASSERT_EQ(rt.rc, 0) << rt.out << rt.err;
  const fs::path c = tmp / "c";
  const std::vector<std::string> args_c{"sweep", (tmp / "b.json").string(), "--out", c.string(), "--reuse",
                                        (tmp / "runs").string()};
  std::vector<std::string> dry_c = args_c;
  dry_c.push_back("--dry-run");
  const auto rc = test::run_ijepa(dry_c);
  ASSERT_EQ(rc.rc, 0) << rc.out << rc.err;
  EXPECT_NE(rc.out.find("reuse " + src.string()), std::string::npos) << rc.out;
  EXPECT_NE(rc.out.find("reuse " + fs::canonical(r1).string()), std::string::npos) << rc.out;
  const auto rc2 = test::run_ijepa(args_c);
  ASSERT_EQ(rc2.rc, 0) << rc2.out << rc2.err;
  EXPECT_NE(rc2.out.find("0 to run, 2 copied"), std::string::npos) << rc2.out;
  EXPECT_NE(test::read_text(c / "trials" / (b_new + ".log")).find("trial reused at "), std::string::npos);
  fs::remove_all(c);
  // A symlinked source is copied (the trial a real directory), and the linked run is never written.
  fs::create_directory_symlink(src, tmp / "link");
  const Snapshot src_before = snapshot(src);
  const auto rl = test::run_ijepa({"sweep", (tmp / "b.json").string(), "--out", c.string(), "--reuse",
                                   (tmp / "link").string()});
  ASSERT_EQ(rl.rc, 0) << rl.out << rl.err;
  EXPECT_NE(rl.out.find("1 to run, 1 copied"), std::string::npos) << rl.out;
  EXPECT_FALSE(fs::is_symlink(c / "trials" / b_same));
  EXPECT_EQ(load_json_file(c / "trials" / b_same / "config.resolved.json")["name"], "b_ablation");
  EXPECT_EQ(snapshot(src), src_before);
  fs::remove_all(c);
  // A material difference (another weight decay, or another train.max_steps) is never reused.
  for (const char* set : {"train.weight_decay=0.05", "train.max_steps=3"}) {
    const auto rm = test::run_ijepa({"sweep", (tmp / "b.json").string(), "--out", c.string(), "--reuse", a.string(),
                                     "--set", set, "--dry-run"});
    ASSERT_EQ(rm.rc, 0) << rm.out << rm.err;
    EXPECT_EQ(rm.out.find("reuse "), std::string::npos) << set << "\n" << rm.out;
  }
  // Bad sources: one line naming the source; nothing created.
  for (const auto& [dir, needle] : std::vector<std::pair<fs::path, std::string>>{
           {tmp / "missing", ": no such directory"},
           {tmp / "a.json", ": not a directory"},
           {tmp / "empty", ": no completed run there"}}) {
    if (needle.find("completed") != std::string::npos) fs::create_directories(dir);
    for (const bool dry_run : {false, true}) {
      std::vector<std::string> bad{"sweep", (tmp / "b.json").string(), "--out", c.string(), "--reuse", dir.string()};
      if (dry_run) bad.push_back("--dry-run");
      const auto r = test::run_ijepa(bad);
      EXPECT_EQ(r.rc, 1) << r.out << r.err;
      EXPECT_EQ(count_lines(r.err), 1) << r.err;
      EXPECT_NE(r.err.find("--reuse " + dir.string() + needle), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(c));
    }
  }
}

TEST(SweepCli, IncompatibleOrForeignDirectoryIsRefusedAndLeftUnchanged) {
  test::TempDir tmp;
  test::write_text(tmp / "e.json", sweep_experiment(R"({"seeds": [0]})"_json).dump());
  const fs::path out = tmp / "out";
  fs::create_directories(out);
  test::write_text(out / "sweep.json", R"({"format": "ijepa-sweep", "version": 99, "trials": []})");
  test::write_text(out / "notes.txt", "keep me\n");
  const Snapshot before = snapshot(out);
  const auto r = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("sweep.json: format \"ijepa-sweep\" version 99"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(out), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 2) << "no .lock, no trials/";
  const auto rep = test::run_ijepa({"report", out.string()});
  EXPECT_EQ(rep.rc, 1);
  EXPECT_NE(rep.err.find("version 99"), std::string::npos) << rep.err;
  EXPECT_EQ(snapshot(out), before);
  // A directory that is not a sweep's.
  fs::remove(out / "sweep.json");
  const auto r2 = test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", out.string()});
  EXPECT_EQ(r2.rc, 1);
  EXPECT_NE(r2.err.find("not a sweep directory"), std::string::npos) << r2.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator()), 1);
  // What a sweep stopped before its first file leaves (its lock and an empty trials/, as a full disk did) is taken
  // by the same command again, not refused as a foreign directory.
  const fs::path started = tmp / "started";
  fs::create_directories(started / "trials");
  test::write_text(started / ".lock", "");
  const auto r3 =
      test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", started.string(), "--dry-run"});
  EXPECT_EQ(r3.rc, 0) << r3.out << r3.err;
  test::write_text(started / "trials" / "x.json", "{}");  // not empty: someone's
  const auto r4 =
      test::run_ijepa({"sweep", (tmp / "e.json").string(), "--out", started.string(), "--dry-run"});
  EXPECT_EQ(r4.rc, 1);
  EXPECT_NE(r4.err.find("not a sweep directory"), std::string::npos) << r4.err;
}

// Every experiment and sweep file the repository ships resolves against the built plugins (a sweep file: each of
// its trials; a plain experiment: as the base of a one-trial sweep), so no documented command meets a stale key.
TEST(SweepCli, EveryShippedExperimentAndSweepFileResolves) {
  test::TempDir tmp;
  const fs::path root = fs::path(IJEPA_TEST_SOURCE_DIR) / ".." / "experiments";
  int files = 0, sweeps = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    ++files;
    fs::path sweep_file = e.path();
    if (nlohmann::json::parse(test::read_text(e.path())).contains("sweep")) {
      ++sweeps;
    } else {
      sweep_file = tmp / ("wrap_" + std::to_string(files) + ".json");
      test::write_text(sweep_file, nlohmann::json{{"schema_version", 1},
                                                  {"base", {fs::absolute(e.path()).string()}},
                                                  {"name", "check"},
                                                  {"sweep", {{"seeds", {0}}}}}
                                       .dump());
    }
    const auto r = test::run_ijepa({"sweep", sweep_file.string(), "--dry-run", "--out", (tmp / "out").string()});
    EXPECT_EQ(r.rc, 0) << e.path() << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("dry run: nothing written"), std::string::npos) << e.path() << "\n" << r.out << r.err;
    if (e.path().filename() == "t6_masking_quickstart2.json") {  // an axis of whole maskers reads by their types
      EXPECT_NE(r.out.find("t6_rasterized_s0  rasterized  "), std::string::npos) << r.out;
      EXPECT_EQ(r.out.find("context_quadrant"), std::string::npos) << r.out;
    }
  }
  EXPECT_GE(files, 30);  // experiments/, paper/, ablations/, sweeps/, device/
  EXPECT_GE(sweeps, 20);
}
