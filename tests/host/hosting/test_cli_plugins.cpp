// `ijepa plugins` and `ijepa describe` (host/src/cli/cmd_info.cpp) through the real binary, with the built-in
// template plugin and the fixture plugins; `ijepa train` meeting a plugin loss that turns NaN.
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "host/hosting/fixture_plugins.hpp"
#include "ijepa/sdk/version.hpp"

namespace {

namespace fs = std::filesystem;
using ijepa::test::CommandResult;
using ijepa::test::fixture_dir;
using ijepa::test::fixture_file;
using ijepa::test::run_ijepa;
using nlohmann::json;

bool has(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

std::string show(const CommandResult& r) {
  return "exit " + std::to_string(r.rc) + "\n--- stdout\n" + r.out + "--- stderr\n" + r.err;
}

const json* component(const json& listing, const std::string& kind, const std::string& type) {
  for (const auto& c : listing["components"]) {
    if (c["kind"] == kind && c["type"] == type) return &c;
  }
  return nullptr;
}

// Four steps with the fixture evaluator signal_self (tests/fixtures/plugins/abort_after.cpp) at steps 2 and 4.
json signal_self_experiment() {
  json cfg = ijepa::test::tiny_experiment();
  cfg["train"]["max_steps"] = 4;
  cfg["data"]["synthetic_classes"] = 4;
  cfg["components"]["evaluators"] = json::array({{{"type", "signal_self"}, {"every_steps", 2}, {"at_end", false},
                                                  {"random_init", false}, {"train_limit", 16}, {"test_limit", 8}}});
  return cfg;
}

// `ijepa train` of cfg (written to dir/e.json) into dir/r, quiet, with the fixture plugins of `fixture` loaded.
CommandResult train_with_fixture(const fs::path& dir, const json& cfg, const std::string& fixture) {
  ijepa::test::write_text(dir / "e.json", cfg.dump());
  return run_ijepa({"train", (dir / "e.json").string(), "--out", (dir / "r").string(), "--quiet", "--plugin-dir",
                    fixture_dir(fixture).string()});
}

TEST(CliPlugins, ListsTheBuiltInTemplate) {
  const auto r = run_ijepa({"plugins"});
  ASSERT_EQ(r.rc, 0) << show(r);
  EXPECT_TRUE(has(r.out, "KIND")) << show(r);
  bool found = false;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("loss ", 0) == 0 && has(line, " cosine ") && has(line, "org.ijepa.template.cosine") &&
        has(line, "ijepa_template_cosine.so"))
      found = true;
  }
  EXPECT_TRUE(found) << show(r);
}

TEST(CliPlugins, JsonListing) {
  const auto r = run_ijepa({"plugins", "--json"});
  ASSERT_EQ(r.rc, 0) << show(r);
  const json j = json::parse(r.out);
  const json* c = component(j, "loss", "cosine");
  ASSERT_NE(c, nullptr) << r.out;
  EXPECT_EQ((*c)["plugin_id"], "org.ijepa.template.cosine");
  EXPECT_EQ((*c)["version"], "0.1.0");
  EXPECT_TRUE(has((*c)["path"].get<std::string>(), "lib/ijepa/plugins/ijepa_template_cosine.so")) << (*c)["path"];
  bool plugin_listed = false;
  for (const auto& p : j["plugins"]) {
    if (p["plugin_id"] == "org.ijepa.template.cosine") {
      plugin_listed = true;
      EXPECT_EQ(p["sha256"].get<std::string>().size(), 64u);
    }
  }
  EXPECT_TRUE(plugin_listed) << r.out;
  EXPECT_TRUE(j["rejected"].is_array());
  ASSERT_GE(j["searched"].size(), 1u);
  EXPECT_TRUE(has(j["searched"][0].get<std::string>(), "lib/ijepa/plugins")) << j["searched"];
}

TEST(CliDescribe, PrintsDefaultsAndDocs) {
  const auto r = run_ijepa({"describe", "loss/cosine"});
  ASSERT_EQ(r.rc, 0) << show(r);
  const json j = json::parse(r.out);
  EXPECT_EQ(j["kind"], "loss");
  EXPECT_EQ(j["type"], "cosine");
  EXPECT_EQ(j["plugin_id"], "org.ijepa.template.cosine");
  EXPECT_EQ(j["defaults"], json({{"type", "cosine"}, {"normalize_target", true}, {"eps", 1e-8}}));
  ASSERT_TRUE(j["doc"].is_object());
  for (const char* k : {"normalize_target", "eps"}) {
    ASSERT_TRUE(j["doc"].contains(k)) << k;
    EXPECT_FALSE(j["doc"][k].get<std::string>().empty()) << k;
  }
  EXPECT_FALSE(j["summary"].get<std::string>().empty());
}

TEST(CliDescribe, UnknownTypeListsTheAvailableOnes) {
  const auto r = run_ijepa({"describe", "loss/nope"});
  EXPECT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "ijepa describe: error: no loss plugin 'nope' is loaded (available: ")) << show(r);
  EXPECT_TRUE(has(r.err, "cosine")) << show(r);
  EXPECT_TRUE(has(r.err, "; a plugin of your own: --plugin-dir DIR)")) << show(r);
}

TEST(CliPlugins, ExtraPluginDirAddsItsComponents) {
  const auto r = run_ijepa({"plugins", "--json", "--plugin-dir", fixture_dir("good").string()});
  ASSERT_EQ(r.rc, 0) << show(r);
  const json j = json::parse(r.out);
  const json* c = component(j, "loss", "fixture_good");
  ASSERT_NE(c, nullptr) << r.out;
  EXPECT_EQ((*c)["plugin_id"], "org.ijepa.test.good");
  EXPECT_NE(component(j, "loss", "cosine"), nullptr) << r.out;
  EXPECT_TRUE(j["rejected"].empty()) << r.out;
}

// `--plugin-dir src/` for `--plugin-dir src/build/` (an exercise's first stumble: nothing said, then "no evaluator
// plugin 'centroid' is loaded" sent the author back to a listing that said nothing): a warning and an "ignored:"
// line pointing at the build folder; a duplicate id says how a copied plugin gets its own.
TEST(CliPlugins, APluginDirWithoutPluginsSaysWhereTheyAre) {
  ijepa::test::TempDir tmp;
  ::umask(022);
  fs::create_directories(tmp / "src");
  ijepa::test::write_text(tmp / "src" / "plugin_entry.cpp", "// sources\n");
  ijepa::test::copy_fixture(fixture_file("good"), tmp / "src" / "build");
  const auto r = run_ijepa({"plugins", "--plugin-dir", (tmp / "src").string()});
  EXPECT_EQ(r.rc, 0) << show(r);
  const std::string why = "no plugin file (ijepa_<name>.so) in this directory; " +
                          (fs::weakly_canonical(tmp / "src") / "build").string() + " has one";
  EXPECT_TRUE(has(r.out, "ignored:\n  " + fs::weakly_canonical(tmp / "src").string() + ": " + why)) << show(r);
  EXPECT_TRUE(has(r.err, "plugin directory " + fs::weakly_canonical(tmp / "src").string() + ": " + why)) << show(r);
  const auto twice = run_ijepa({"plugins", "--plugin-dir", fixture_dir("good").string(), "--plugin-dir",
                                (tmp / "src" / "build").string()});
  EXPECT_TRUE(has(twice.out, "duplicate plugin id org.ijepa.test.good (already loaded from ")) << show(twice);
  EXPECT_TRUE(has(twice.out, "); a copied plugin needs an id (IJEPA_PLUGIN_ABI) and component types of its own: "
                             "docs/plugin-guide.md, section 2"))
      << show(twice);
}

// One run with three bad --plugin-dir values: each refusal is one line naming the path and the reason, and the
// command still succeeds because the built-in plugins loaded.
TEST(CliPlugins, BadPluginDirsAreReportedOnOneLineEachAndBuiltInsStillLoad) {
  ijepa::test::TempDir tmp;
  ::umask(022);
  const fs::path bad = fixture_file("abi_sdk_major");
  const fs::path missing = tmp / "no-such-dir";
  const fs::path insecure = ijepa::test::copy_fixture(fixture_file("good"), tmp / "plugins");
  ASSERT_EQ(::chmod(insecure.c_str(), 0666), 0);
  const auto r = run_ijepa({"plugins", "--plugin-dir", bad.parent_path().string(), "--plugin-dir", missing.string(),
                            "--plugin-dir", (tmp / "plugins").string()});
  EXPECT_EQ(r.rc, 0) << "built-ins loaded, so success\n" << show(r);
  // --strict: any refusal fails the command (a CI check that a plugin loads), naming the first.
  const auto strict = run_ijepa({"plugins", "--strict", "--plugin-dir", missing.string()});
  EXPECT_EQ(strict.rc, 1) << show(strict);
  EXPECT_TRUE(has(strict.err, "ijepa plugins: 1 plugin file(s) or director(ies) rejected (--strict): " +
                                  missing.string() + ": plugin directory does not exist"))
      << show(strict);
  EXPECT_EQ(run_ijepa({"plugins", "--strict"}).rc, 0);
  EXPECT_TRUE(has(r.out, "org.ijepa.template.cosine")) << show(r);
  EXPECT_FALSE(has(r.out, "org.ijepa.test.good")) << "the insecure copy must not load\n" << show(r);
  EXPECT_TRUE(has(r.out, "\nrejected:\n")) << show(r);
  const std::string l1 = "  " + fs::weakly_canonical(bad).string() + ": ABI mismatch: SDK major version " +
                         std::to_string(IJEPA_SDK_VERSION_MAJOR + 1) + " != host SDK major " +
                         std::to_string(IJEPA_SDK_VERSION_MAJOR) + "\n";
  const std::string l2 = "  " + missing.string() + ": plugin directory does not exist\n";
  const std::string l3 = "  " + fs::weakly_canonical(insecure).string() +
                         ": refusing to load a plugin file writable by other users (pass --allow-insecure-plugins "
                         "to override)\n";
  for (const auto& l : {l1, l2, l3}) EXPECT_TRUE(has(r.out, l)) << "expected line: " << l << show(r);
  EXPECT_TRUE(has(r.err, "plugin rejected: " + fs::weakly_canonical(bad).string())) << show(r);
}

TEST(CliPlugins, InsecurePluginLoadsWithTheExplicitFlag) {
  ijepa::test::TempDir tmp;
  ::umask(022);
  const fs::path file = ijepa::test::copy_fixture(fixture_file("good"), tmp / "plugins");
  ASSERT_EQ(::chmod((tmp / "plugins").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(file.c_str(), 0666), 0);
  const auto r =
      run_ijepa({"plugins", "--json", "--allow-insecure-plugins", "--plugin-dir", (tmp / "plugins").string()});
  ASSERT_EQ(r.rc, 0) << show(r);
  const json j = json::parse(r.out);
  EXPECT_NE(component(j, "loss", "fixture_good"), nullptr) << r.out;
  EXPECT_TRUE(j["rejected"].empty()) << r.out;
}

// The trainer reads the losses at sync points only (log steps, checkpoints), not every step; a NaN loss is still
// reported with the step that produced it, and nothing is written from the weights after it: the run fails at the
// next sync point with the last good checkpoint kept.
TEST(CliPlugins, ANonFiniteLossFailsTheRunAtItsStepAndKeepsTheLastGoodCheckpoint) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["loss"] = {{"type", "fixture_good"}, {"nan_from_call", 5}};
  cfg["train"]["log_every"] = 4;         // sync points: the checkpoints at 2, 4, 6 and the log steps 4, 8
  cfg["train"]["checkpoint_every"] = 2;
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", (tmp / "run").string(), "--quiet",
                            "--plugin-dir", fixture_dir("good").string()});
  ASSERT_NE(r.rc, 0) << show(r);
  EXPECT_TRUE(has(r.err, "loss is nan at step 5 (lr ")) << show(r);
  const json st = json::parse(ijepa::test::read_text(tmp / "run" / "status.json"));
  EXPECT_EQ(st.at("state"), "failed");
  EXPECT_EQ(st.at("failed_step"), 5);
  EXPECT_TRUE(has(st.at("error").get<std::string>(), "loss is nan at step 5")) << st.dump();
  EXPECT_EQ(ijepa::test::read_text(tmp / "run" / "checkpoints" / "LATEST").rfind("step_00000004", 0), 0u);
  EXPECT_FALSE(fs::exists(tmp / "run" / "checkpoints" / "step_00000006.safetensors"));
  EXPECT_TRUE(has(ijepa::test::read_text(tmp / "run" / "metrics.jsonl"), "\"step\":4,"));
}


// A component that breaks the SDK's contract is named, with what is wrong, before anything else trips over it
// (an exercise saw out-of-range patch ids blamed on the predictor, an empty context train to "completed", a per-token
// loss reported as autograd's "grad can be implicitly created only for scalar outputs").
TEST(CliPlugins, AMaskerThatBreaksTheContractIsNamedBeforeTheRunExists) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["masker"] = {{"type", "abort_after"}, {"abort_at", 1000}};
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const std::vector<std::pair<std::string, std::string>> faults{
      {"out_of_range", "target mask 0 has patch id 64 outside the 64 patches of the grid (ids 0..63)"},
      {"negative", "context mask 0 has patch id -1, below 0"},
      {"empty_context", "context mask 0 is empty (K = 0 patches)"},
      {"wrong_batch", "target mask 0 has shape [9, 16], not [8, K]"},
      {"int32", "context mask 0 has dtype Int, not int64"},
      {"no_target", "returned no target mask"}};
  for (const auto& [fault, says] : faults) {
    const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", (tmp / fault).string(), "--quiet",
                              "--set", "components.masker.fault=" + fault, "--plugin-dir",
                              fixture_dir("abort_after").string()});
    EXPECT_EQ(r.rc, 1) << fault << show(r);
    EXPECT_TRUE(has(r.err, "plugin org.ijepa.test.abort_after: masker/abort_after: " + says)) << fault << show(r);
    EXPECT_FALSE(fs::exists(tmp / fault)) << fault << ": the first batch is checked before the run directory";
    // `ijepa masks`, where a masker under development is tried, says the same.
    const auto m = run_ijepa({"masks", "--masker", "abort_after", "--image-size", "32", "--patch-size", "4",
                              "--batch", "8", "--steps", "1", "--seed", "0", "--set", "abort_at=1000", "--set",
                              "fault=" + fault,
                              "--plugin-dir", fixture_dir("abort_after").string()});
    EXPECT_EQ(m.rc, 1) << fault << show(m);
    EXPECT_TRUE(has(m.err, "masker/abort_after: the masks of batch 0: " + says)) << fault << show(m);
  }
  const auto ok = run_ijepa({"masks", "--masker", "abort_after", "--image-size", "32", "--patch-size", "4",
                             "--batch", "8", "--steps", "2", "--seed", "0", "--set", "abort_at=1000", "--plugin-dir",
                             fixture_dir("abort_after").string()});
  ASSERT_EQ(ok.rc, 0) << show(ok);
  EXPECT_TRUE(has(ok.out, "target masks per step: mean 1.00, min 1, max 1")) << show(ok);
  // A factory that reads a key it never registered: the fix is in the plugin (the message blamed whatever had set
  // the type, and a --set of the key then said there is no such key).
  const auto unreg = run_ijepa({"train", (tmp / "e.json").string(), "--out", (tmp / "unreg").string(), "--quiet",
                                "--set", "components.masker.fault=read_unregistered", "--plugin-dir",
                                fixture_dir("abort_after").string()});
  EXPECT_EQ(unreg.rc, 1) << show(unreg);
  EXPECT_TRUE(has(unreg.err, "components.masker: masker/abort_after (plugin org.ijepa.test.abort_after) reads "
                             "config key 'margin', which is not among the keys it registered: add it to its "
                             "ComponentEntry's defaults (and doc)"))
      << show(unreg);
  EXPECT_EQ(ijepa::test::count_lines(unreg.err), 1u) << show(unreg);
}

// A Ctrl-C (or SIGTERM) during an in-run evaluation is answered at once, not with silence until the evaluation ends
// (run_stages.cpp's StopNotice); the evaluation runs to its end and is recorded, the run stops at that step with its
// checkpoint, and --resume goes on without evaluating that step again. The fixture evaluator signals its own
// process, so there is no timing race.
TEST(CliPlugins, AStopDuringAnInRunEvaluationIsAnsweredAtOnceAndTheEvaluationIsKept) {
  ijepa::test::TempDir tmp;
  ijepa::test::write_text(tmp / "e.json", signal_self_experiment().dump());
  for (const std::string sig : {"INT", "TERM"}) {
    const fs::path run = tmp / sig;
    const std::string args = " train " + ijepa::test::shell_quote((tmp / "e.json").string()) + " --out " +
                             ijepa::test::shell_quote(run.string()) + " --plugin-dir " +
                             ijepa::test::shell_quote(fixture_dir("abort_after").string());
    const std::string exe = ijepa::test::shell_quote(IJEPA_CLI_EXE);
    const auto r =
        ijepa::test::run_command("env -u IJEPA_PLUGIN_PATH IJEPA_LOG_LEVEL=warn IJEPA_FIXTURE_EVAL_SIGNAL=" + sig +
                                 " " + exe + args);
    EXPECT_EQ(r.rc, 130) << sig << show(r);
    EXPECT_TRUE(has(r.err, "stopping: the evaluation of step 2 runs to its end first (a second Ctrl-C ends the "
                           "process at once; --resume continues from the last checkpoint)"))
        << sig << show(r);
    const json st = json::parse(ijepa::test::read_text(run / "status.json"));
    EXPECT_EQ(st.at("state"), "interrupted") << sig;
    EXPECT_EQ(st.at("step"), 2) << sig;
    EXPECT_TRUE(fs::exists(run / "checkpoints" / "step_00000002.safetensors")) << sig;
    std::string evals = ijepa::test::read_text(run / "eval.jsonl");
    ASSERT_EQ(std::count(evals.begin(), evals.end(), '\n'), 1) << sig << evals;
    EXPECT_EQ(json::parse(evals).at("step"), 2) << sig << evals;
    const auto resumed = ijepa::test::run_command("env -u IJEPA_PLUGIN_PATH IJEPA_LOG_LEVEL=warn " + exe + args +
                                                  " --resume --quiet");
    ASSERT_EQ(resumed.rc, 0) << sig << show(resumed);
    evals = ijepa::test::read_text(run / "eval.jsonl");
    EXPECT_EQ(std::count(evals.begin(), evals.end(), '\n'), 2) << "steps 2 and 4, once each\n" << evals;
    EXPECT_EQ(json::parse(ijepa::test::read_text(run / "status.json")).at("state"), "completed") << sig;
  }
}

// An evaluator that changes its (shared) input features in place, or returns a metric with the name of a host field,
// is named: the features are shared with the next evaluator of the same setting (its k-NN top-1 fell from 100 to
// chance without a word), and a metric "step" replaced the record's step.
TEST(CliPlugins, AnEvaluatorThatBreaksTheContractIsNamed) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["train"]["max_steps"] = 2;
  cfg["data"]["synthetic_classes"] = 4;
  cfg["components"]["evaluators"] = json::array(
      {{{"type", "signal_self"}, {"random_init", false}, {"train_limit", 16}, {"test_limit", 8}},
       {{"type", "knn"}, {"random_init", false}, {"train_limit", 16}, {"test_limit", 8}}});
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const std::vector<std::pair<std::string, std::string>> faults{
      {"mutate", "evaluate() changed its input features or labels in place; they are shared with the other "
                 "evaluators (work on a copy)"},
      {"host_metric", "evaluate() returned a metric named 'step', a field the host records itself"}};
  for (const auto& [fault, says] : faults) {
    const fs::path run = tmp / fault;
    const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", run.string(), "--quiet", "--set",
                              "components.evaluators.0.fault=" + fault, "--plugin-dir",
                              fixture_dir("abort_after").string()});
    EXPECT_EQ(r.rc, 1) << fault << show(r);
    EXPECT_TRUE(has(r.err, "plugin org.ijepa.test.abort_after: evaluator/signal_self: " + says)) << fault << show(r);
    EXPECT_EQ(json::parse(ijepa::test::read_text(run / "status.json")).at("state"), "failed") << fault;
    EXPECT_EQ(ijepa::test::read_text(run / "eval.jsonl"), "") << fault << ": nothing half-true recorded";
  }
  // A NaN metric is recorded as null (JSON has no NaN), and the log says so.
  const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", (tmp / "nan").string(), "--quiet", "--set",
                            "components.evaluators.0.fault=nan", "--plugin-dir", fixture_dir("abort_after").string()});
  EXPECT_EQ(r.rc, 0) << show(r);
  EXPECT_TRUE(has(r.err, "evaluator/signal_self (plugin org.ijepa.test.abort_after) returned top1 = nan (recorded as "
                         "null)"))
      << show(r);
}

// An encoder factory that builds another structure each time is named when the target encoder (a second build) is
// copied from the first: it was a size error of the copy, naming no plugin.
TEST(CliPlugins, AnEncoderFactoryThatBuildsAnotherModuleEachTimeIsNamed) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["encoder"] = {{"type", "two_faced"}};
  const auto r = train_with_fixture(tmp.path(), cfg, "abort_after");
  EXPECT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "components.encoder: encoder/two_faced (plugin org.ijepa.test.abort_after) built two "
                         "different modules from one config (parameter 'w' has another shape); its factory must build "
                         "the same one every time"))
      << show(r);
  EXPECT_FALSE(fs::exists(tmp / "r"));
}

// `ijepa eval` with several evaluators, one of which fails: the others' results are written (they used to be lost
// with the failure), the failure is listed in the JSON and on stderr, and the exit status is 1.
TEST(CliPlugins, OneFailingEvaluatorDoesNotCostTheOthersResults) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["train"]["max_steps"] = 2;
  cfg["data"]["synthetic_classes"] = 4;
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const fs::path run = tmp / "r";
  ASSERT_EQ(run_ijepa({"train", (tmp / "e.json").string(), "--out", run.string(), "--quiet"}).rc, 0);
  using ijepa::test::shell_quote;
  const auto r = ijepa::test::run_command(
      "env -u IJEPA_PLUGIN_PATH IJEPA_LOG_LEVEL=warn IJEPA_FIXTURE_EVAL_THROW=1 " + shell_quote(IJEPA_CLI_EXE) +
      " eval " + shell_quote(run.string()) + " --evaluator signal_self --evaluator knn --set train_limit=32 --set "
      "test_limit=16 --no-random-init --out " + shell_quote((tmp / "ev.json").string()) + " --plugin-dir " +
      shell_quote(fixture_dir("abort_after").string()));
  EXPECT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "ijepa eval: error: --evaluator signal_self: plugin org.ijepa.test.abort_after: "
                         "evaluator/signal_self: signal_self was asked to fail"))
      << show(r);
  const json doc = json::parse(ijepa::test::read_text(tmp / "ev.json"));
  ASSERT_EQ(doc.at("results").size(), 1u) << doc.dump(2);
  EXPECT_EQ(doc["results"][0].at("evaluator"), "knn");
  ASSERT_EQ(doc.at("failed").size(), 1u) << doc.dump(2);
  EXPECT_EQ(doc["failed"][0].at("evaluator"), "signal_self");
}

// A loss that keeps the previous step's graph fails in autograd's words, which named no component; the components
// are named now.
TEST(CliPlugins, ALossThatKeepsAnEarlierGraphGetsTheComponentsNamed) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["loss"] = {{"type", "fixture_good"}, {"fault", "keeps_graph"}};
  const auto r = train_with_fixture(tmp.path(), cfg, "good");
  EXPECT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "backward through the graph a second time")) << show(r);
  EXPECT_TRUE(has(r.err, "a component keeps a tensor from an earlier step's graph (the loss loss/fixture_good of "
                         "plugin org.ijepa.test.good, the predictor predictor/vit_predictor or the encoder "
                         "encoder/vit?)"))
      << show(r);
  EXPECT_EQ(json::parse(ijepa::test::read_text(tmp / "r" / "status.json")).at("state"), "failed");
}

// A component's step monitor is held to the same rules as its loss metrics: a metric named like a host field is
// refused (it replaced the host's grad_norm in metrics.jsonl), naming the plugin.
TEST(CliPlugins, AStepMonitorMetricNamedLikeAHostFieldIsRefused) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["loss"] = {{"type", "fixture_good"}, {"fault", "monitor_host_metric"}};
  const auto r = train_with_fixture(tmp.path(), cfg, "good");
  EXPECT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "plugin org.ijepa.test.good: loss/fixture_good: its step monitor returned a metric named "
                         "'grad_norm', a field the host records itself"))
      << show(r);
}

// A run whose directory is removed while it trains (rm -rf racing the run's own writes) ends failed, never
// "completed" in a directory that lost its config; the fixture evaluator removes config.resolved.json at step 2.
TEST(CliPlugins, ARunWhoseDirectoryWasRemovedDoesNotEndCompleted) {
  ijepa::test::TempDir tmp;
  ijepa::test::write_text(tmp / "e.json", signal_self_experiment().dump());
  const fs::path run = tmp / "r";
  using ijepa::test::shell_quote;
  const auto r = ijepa::test::run_command(
      "env -u IJEPA_PLUGIN_PATH IJEPA_LOG_LEVEL=warn IJEPA_FIXTURE_EVAL_REMOVE=" +
      shell_quote((run / "config.resolved.json").string()) + " " + shell_quote(IJEPA_CLI_EXE) + " train " +
      shell_quote((tmp / "e.json").string()) + " --out " + shell_quote(run.string()) + " --quiet --plugin-dir " +
      shell_quote(fixture_dir("abort_after").string()));
  EXPECT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "config.resolved.json is gone: the run directory was removed or replaced while the run "
                         "trained"))
      << show(r);
  EXPECT_EQ(json::parse(ijepa::test::read_text(run / "status.json")).at("state"), "failed");
  EXPECT_FALSE(fs::exists(run / "checkpoints" / "step_00000004.safetensors"));
}

TEST(CliPlugins, ALossThatBreaksTheContractIsNamedAndTheRunRecordsWhy) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["loss"] = {{"type", "fixture_good"}};
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const std::vector<std::pair<std::string, std::string>> faults{
      {"vector", "compute() must return a 0-dim floating-point loss, got Float of shape ["},
      {"detached", "compute() returned a loss that does not require grad"},
      {"host_metric", "compute() returned a metric named 'lr', a field the host records itself (rename the metric)"},
      {"multiline", "fixture loss fault: line one / line two"}};
  for (const auto& [fault, says] : faults) {
    const fs::path run = tmp / fault;
    const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", run.string(), "--quiet", "--set",
                              "components.loss.fault=" + fault, "--plugin-dir", fixture_dir("good").string()});
    EXPECT_EQ(r.rc, 1) << fault << show(r);
    EXPECT_TRUE(has(r.err, "plugin org.ijepa.test.good: loss/fixture_good: " + says)) << fault << show(r);
    // status.json holds the one line (no C++ backtrace), and log.txt ends with it.
    const json st = json::parse(ijepa::test::read_text(run / "status.json"));
    EXPECT_EQ(st.at("state"), "failed");
    const std::string error = st.at("error");
    EXPECT_TRUE(has(error, says)) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    const std::string log = ijepa::test::read_text(run / "log.txt");
    EXPECT_TRUE(has(log.substr(log.rfind('\n', log.size() - 2) + 1), "[error] run failed at step 1: plugin "))
        << log;
  }
}

// With the run-health diagnostics on (the default), a diverging run used to fail with the SVD of its NaN features
// ("linalg.svd: The algorithm failed to converge ...") and a backtrace in status.json: the loss is looked at first.
TEST(CliPlugins, ADivergingRunSaysItsLossIsNotFiniteWithTheDiagnosticsOn) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["train"]["health"] = true;
  cfg["train"]["log_every"] = 2;
  cfg["train"]["lr"] = 1e6;
  cfg["train"]["start_lr"] = 1e6;
  cfg["train"]["epochs"] = 5;
  cfg["components"]["evaluators"] = json::array();
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", (tmp / "run").string(), "--quiet"});
  ASSERT_EQ(r.rc, 1) << show(r);
  EXPECT_TRUE(has(r.err, "error: loss is ")) << show(r);
  EXPECT_FALSE(has(r.err, "svd")) << show(r);
  const json st = json::parse(ijepa::test::read_text(tmp / "run" / "status.json"));
  EXPECT_TRUE(has(st.at("error").get<std::string>(), "loss is ")) << st.dump();
}

// eval, embed and export build the encoder alone: a run trained with a loss plugin that is not loaded here (a
// checkpoint shared without its .so files) still loads.
TEST(CliPlugins, TheEncoderOfARunLoadsWithoutItsLossPlugin) {
  ijepa::test::TempDir tmp;
  json cfg = ijepa::test::tiny_experiment();
  cfg["components"]["loss"] = {{"type", "fixture_good"}};
  cfg["train"]["max_steps"] = 2;
  cfg["components"]["evaluators"] = json::array();
  ijepa::test::write_text(tmp / "e.json", cfg.dump());
  const fs::path run = tmp / "run";
  const auto r = run_ijepa({"train", (tmp / "e.json").string(), "--out", run.string(), "--quiet", "--plugin-dir",
                            fixture_dir("good").string()});
  ASSERT_EQ(r.rc, 0) << show(r);
  const auto ex = run_ijepa({"export", run.string(), "--format", "timm", "--out", (tmp / "timm").string()});
  EXPECT_EQ(ex.rc, 0) << show(ex);
  EXPECT_TRUE(fs::exists(tmp / "timm" / "model.safetensors")) << show(ex);
  const auto em = run_ijepa({"embed", "--checkpoint", run.string(), "--data", "synthetic", "--limit", "4", "--out",
                             (tmp / "f.safetensors").string()});
  EXPECT_EQ(em.rc, 0) << show(em);
  EXPECT_TRUE(fs::exists(tmp / "f.safetensors")) << show(em);
}
}  // namespace
