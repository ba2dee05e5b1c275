// Sweep expansion (host/src/config/sweep) and trial planning (plan_sweep): order, names, grid vs list, seeds,
// and every malformed sweep as a one-line error naming the key.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/config/sweep.hpp"
#include "host/hosting/fixture_plugins.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/run/sweep_runner.hpp"
#include "ijepa/host/util/cuda_info.hpp"

using namespace ijepa;
using namespace ijepa::host;
namespace fs = std::filesystem;

namespace {

// The resolved tiny experiment (seed 3), the reference for axis keys and placeholders.
const nlohmann::json& experiment() {
  static const nlohmann::json e = [] {
    test::TempDir tmp;
    test::write_text(tmp / "e.json", test::tiny_experiment().dump());
    return resolve_experiment(load_layered(tmp / "e.json"), {}, test::builtin_plugins().registry(), "e.json");
  }();
  return e;
}

std::vector<SweepTrial> expand(const nlohmann::json& sweep) {
  return expand_sweep(parse_sweep(sweep, "x.json"), experiment(), "x.json");
}

std::vector<std::string> names(const std::vector<SweepTrial>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.name);
  return out;
}

// Expects expand(sweep) to throw one line containing every needle.
void expect_error(const nlohmann::json& sweep, const std::vector<std::string>& needles) {
  try {
    expand(sweep);
    ADD_FAILURE() << "no error for " << sweep.dump();
  } catch (const ConfigFileError& e) {
    const std::string w = e.what();
    EXPECT_EQ(w.find('\n'), std::string::npos) << w;
    EXPECT_EQ(w.rfind("x.json: sweep", 0), 0u) << "names the file: " << w;
    for (const auto& n : needles) EXPECT_NE(w.find(n), std::string::npos) << "'" << n << "' in: " << w;
  }
}

}  // namespace

TEST(SweepExpand, GridIsAxesInKeyOrderLastFastestSeedsInnermost) {
  const auto ts = expand(nlohmann::json::parse(R"({
      "axes": {"train.lr": [0.1, 0.2], "components.masker.num_pred_masks": [2, 4]}, "seeds": [0, 1]})"));
  // Keys are stored sorted: components.masker.num_pred_masks (outer) before train.lr (inner).
  EXPECT_EQ(names(ts), (std::vector<std::string>{
                           "num_pred_masks2_lr0.1_s0", "num_pred_masks2_lr0.1_s1", "num_pred_masks2_lr0.2_s0",
                           "num_pred_masks2_lr0.2_s1", "num_pred_masks4_lr0.1_s0", "num_pred_masks4_lr0.1_s1",
                           "num_pred_masks4_lr0.2_s0", "num_pred_masks4_lr0.2_s1"}));
  for (std::size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(ts[i].index, i);
  EXPECT_EQ(ts[5].values, nlohmann::json::parse(R"({"components.masker.num_pred_masks": 4, "train.lr": 0.1})"));
  EXPECT_EQ(ts[5].seed, 1);
  // The same object again gives the same trials (stable numbering).
  EXPECT_EQ(names(expand(nlohmann::json::parse(R"({
      "seeds": [0, 1], "axes": {"components.masker.num_pred_masks": [2, 4], "train.lr": [0.1, 0.2]}})"))),
            names(ts));
}

TEST(SweepExpand, ListZipsTheAxesAndDefaultsToTheExperimentSeed) {
  const auto ts = expand(nlohmann::json::parse(R"({"mode": "list",
      "axes": {"train.lr": [0.1, 0.2, 0.3], "train.batch_size": [4, 8, 16]}})"));
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(names(ts), (std::vector<std::string>{"batch_size4_lr0.1_s3", "batch_size8_lr0.2_s3",
                                                 "batch_size16_lr0.3_s3"}));
  for (const auto& t : ts) EXPECT_EQ(t.seed, 3) << "the experiment's seed";
  // list x seeds: the zipped points, each for every seed.
  const auto ts2 = expand(nlohmann::json::parse(R"({"mode": "list", "axes": {"train.lr": [0.1, 0.2]}, "seeds": [7, 8]})"));
  EXPECT_EQ(names(ts2), (std::vector<std::string>{"lr0.1_s7", "lr0.1_s8", "lr0.2_s7", "lr0.2_s8"}));
  // Seeds only, no axes.
  EXPECT_EQ(names(expand(nlohmann::json::parse(R"({"seeds": [0, 1, 2]})"))),
            (std::vector<std::string>{"s0", "s1", "s2"}));
  // "seed" as an axis: the seed comes from it and no "_s" suffix is added.
  const auto ts3 = expand(nlohmann::json::parse(R"({"mode": "list", "axes": {"train.lr": [0.1, 0.1], "seed": [0, 1]}})"));
  EXPECT_EQ(names(ts3), (std::vector<std::string>{"seed0_lr0.1", "seed1_lr0.1"}));
  EXPECT_EQ(ts3[1].seed, 1);
}

TEST(SweepExpand, NamesRenderValuesCompactlyAndSafely) {
  const auto ts = expand(nlohmann::json::parse(R"({
      "axes": {"components.masker.pred_mask_scale": [[0.15, 0.2], [0.2, 0.3]], "+components.masker.note": ["a/b c"]},
      "seeds": [0], "name_template": "{index}_pms{components.masker.pred_mask_scale}_{+components.masker.note}_{name}_s{seed}"})"));
  EXPECT_EQ(names(ts), (std::vector<std::string>{"0_pms0.15-0.2_a_b_c_tiny_s0", "1_pms0.2-0.3_a_b_c_tiny_s0"}));
  EXPECT_EQ(render_sweep_value(nlohmann::json::parse("[[1, 2], [3]]")), "1-2-3");
  EXPECT_EQ(render_sweep_value(nlohmann::json::parse(R"({"lo": 1, "hi": 2.5})")), "hi2.5-lo1");
  EXPECT_EQ(render_sweep_value(nlohmann::json::parse("[]")), "empty");
  EXPECT_EQ(render_sweep_value(true), "true");
  EXPECT_EQ(render_sweep_value(1e-3), "0.001");
  EXPECT_EQ(sanitize_trial_name("../x y/z"), "_._x_y_z");
  EXPECT_EQ(sanitize_trial_name("a=b+c-1.5"), "a=b+c-1.5");
  // {index} is zero-padded to the width of the last index.
  nlohmann::json many = {{"seeds", nlohmann::json::array()}, {"name_template", "t{index}"}};
  for (int i = 0; i < 11; ++i) many["seeds"].push_back(i);
  const auto ts2 = expand(many);
  EXPECT_EQ(ts2.front().name, "t00");
  EXPECT_EQ(ts2.back().name, "t10");
  // Axes with the same last segment get the shortest distinguishing suffix.
  std::vector<SweepAxis> axes{{"components.encoder.depth", false, {}}, {"components.predictor.depth", false, {}},
                              {"train.lr", false, {}}};
  EXPECT_EQ(axis_short_names(axes), (std::vector<std::string>{"encoder.depth", "predictor.depth", "lr"}));
  EXPECT_EQ(default_name_template(axes),
            "encoder.depth{components.encoder.depth}_predictor.depth{components.predictor.depth}_lr{train.lr}_s{seed}");
}

TEST(SweepExpand, MalformedSweepsAreOneLineErrorsNamingTheKey) {
  expect_error(R"({"axes": {"train.lrr": [1, 2]}})"_json, {"train.lrr", "does not exist", "'+train.lrr'"});
  expect_error(R"({"axes": {"components.masker.min_keeep": [1]}})"_json, {"components.masker.min_keeep"});
  expect_error(R"({"axes": {"train.lr": []}})"_json, {"train.lr", "empty grid"});
  expect_error(R"({"axes": {}})"_json, {"no axes and no seeds"});
  expect_error(R"({})"_json, {"no axes and no seeds"});
  expect_error(R"({"axes": {"train.lr": [1]}, "seeds": []})"_json, {"seeds", "empty grid"});
  expect_error(R"({"mode": "list", "axes": {"train.lr": [1, 2], "train.epochs": [1, 2, 3]}})"_json,
               {"list", "'train.epochs' has 3", "has 2"});
  expect_error(R"({"axes": {"train.lr": [1, 2]}, "seeds": [0, 1], "name_template": "lr{train.lr}"})"_json,
               {"same name 'lr1'", "trials 0 and 1"});
  expect_error(R"({"mode": "random", "axes": {"train.lr": [1]}})"_json, {"sweep.mode", "random"});
  expect_error(R"({"axis": {"train.lr": [1]}})"_json, {"unknown key 'axis'"});
  expect_error(R"({"axes": {"train.lr": 1}})"_json, {"train.lr", "list of values"});
  expect_error(R"({"axes": {"seed": [0, 1]}, "seeds": [0]})"_json, {"'seed' is both"});
  expect_error(R"({"seeds": [0, -1]})"_json, {"seeds", "-1"});
  expect_error(R"({"seeds": [0, 0]})"_json, {"seeds", "twice"});
  expect_error(R"({"seeds": [0], "name_template": "x{nope.key}"})"_json, {"unknown placeholder '{nope.key}'"});
  expect_error(R"({"seeds": [0], "name_template": "x{seed"})"_json, {"unbalanced '{'"});
  expect_error(R"({"seeds": [0], "name_template": ""})"_json, {"name_template", "non-empty"});
  // The "report" block: its keys, their types, and the shape of each claim.
  expect_error(R"({"seeds": [0], "report": []})"_json, {"sweep.report", "expected an object"});
  expect_error(R"({"seeds": [0], "report": {"refrence": "a"}})"_json, {"sweep.report", "unknown key 'refrence'"});
  expect_error(R"({"seeds": [0], "report": {"reference": 3}})"_json, {"sweep.report.reference", "non-empty string"});
  expect_error(R"({"seeds": [0], "report": {"best_by": ""}})"_json, {"sweep.report.best_by", "non-empty string"});
  expect_error(R"({"seeds": [0], "report": {"orderings": "a > b"}})"_json, {"sweep.report.orderings", "list"});
  expect_error(R"({"seeds": [0], "report": {"orderings": ["a > b", "a >> b"]}})"_json,
               {"sweep.report.orderings[1]", "one claim", "a >> b"});
  expect_error(R"({"seeds": [0], "report": {"orderings": ["a > "]}})"_json, {"sweep.report.orderings[0]"});
  expect_error(R"({"seeds": [0], "report": {"orderings": [" > b"]}})"_json, {"sweep.report.orderings[0]"});
  expect_error(R"({"seeds": [0], "report": {"orderings": [1]}})"_json, {"sweep.report.orderings[0]"});
  expect_error(R"({"seeds": [0], "report": {"orderings": ["a > b > c"]}})"_json, {"sweep.report.orderings[0]"});
}

TEST(SweepExpand, OrderingClaimsSplitAtTheirOneGreaterThan) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(split_ordering_claim("a > b"), P("a", "b"));
  EXPECT_EQ(split_ordering_claim("a>b"), P("a", "b"));
  EXPECT_EQ(split_ordering_claim("  masker=multiblock   >  [0.15,0.2] "), P("masker=multiblock", "[0.15,0.2]"));
  // A label with a '>' of its own: the claim's '>' is the one with a space either side.
  EXPECT_EQ(split_ordering_claim("lr>1e-3 > base"), P("lr>1e-3", "base"));
  EXPECT_EQ(split_ordering_claim("x>1 > y>2"), P("x>1", "y>2"));
  EXPECT_FALSE(split_ordering_claim("x>1>y"));       // which '>' is the claim's cannot be told
  EXPECT_FALSE(split_ordering_claim("a > b > c"));   // two claims in one
  EXPECT_FALSE(split_ordering_claim("a >> b"));
  EXPECT_FALSE(split_ordering_claim("a < b"));
  EXPECT_FALSE(split_ordering_claim(" > b"));
  EXPECT_FALSE(split_ordering_claim("a >"));
  EXPECT_FALSE(split_ordering_claim("x>1 >  "));
}

TEST(SweepExpand, FileNamesOfTrialsMustNotClash) {
  // "a" and "a.log" would share trials/a.log (the log of "a" and the run directory of "a.log").
  try {
    expand(R"({"axes": {"+x": ["a", "a.log"]}, "seeds": [0], "name_template": "{x}"})"_json);
    ADD_FAILURE() << "no error";
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find("clash"), std::string::npos) << e.what();
  }
}

TEST(SweepExpand, WholeComponentAxisWithANestedPlaceholder) {
  // An axis of whole component objects; the template reads a key inside the trial's value.
  const auto ts = expand(R"({"axes": {"components.masker": [{"type": "multiblock", "min_keep": 4}, {"type": "other"}]},
      "seeds": [0], "name_template": "m_{components.masker.type}_s{seed}"})"_json);
  EXPECT_EQ(names(ts), (std::vector<std::string>{"m_multiblock_s0", "m_other_s0"}));
  EXPECT_EQ(ts[1].values, nlohmann::json::parse(R"({"components.masker": {"type": "other"}})"));
}

// The text of an axis's values in tables: whole components by what tells them apart, anything else as it is.
TEST(SweepExpand, AxisValueLabelsShowWhatTellsComponentsApart) {
  const auto mb = R"({"type": "multiblock", "pred_mask_scale": [0.15, 0.2], "min_keep": 4})"_json;
  const auto mb2 = R"({"type": "multiblock", "pred_mask_scale": [0.2, 0.3], "min_keep": 4})"_json;
  const auto ra = R"({"type": "rasterized", "context_quadrant": -1, "min_keep": 4})"_json;
  auto labels = axis_value_labels({mb, ra, mb});
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[mb.dump()], "multiblock");
  EXPECT_EQ(labels[ra.dump()], "rasterized");
  labels = axis_value_labels({mb, mb2, ra});
  EXPECT_EQ(labels[mb.dump()], "type=multiblock context_quadrant=- pred_mask_scale=[0.15,0.2]");
  EXPECT_EQ(labels[mb2.dump()], "type=multiblock context_quadrant=- pred_mask_scale=[0.2,0.3]");
  EXPECT_EQ(labels[ra.dump()], "type=rasterized context_quadrant=-1 pred_mask_scale=-");
  labels = axis_value_labels({mb, mb2});  // the type is the same: left out
  EXPECT_EQ(labels[mb2.dump()], "pred_mask_scale=[0.2,0.3]");
  labels = axis_value_labels({mb});  // one value: nothing to tell apart, shown whole
  EXPECT_EQ(labels[mb.dump()], mb.dump());
  labels = axis_value_labels({"a", 0.5, nlohmann::json::array({0.1, 0.2}), nullptr});
  EXPECT_EQ(labels["\"a\""], "a");
  EXPECT_EQ(labels["0.5"], "0.5");
  EXPECT_EQ(labels["[0.1,0.2]"], "[0.1,0.2]");
  EXPECT_EQ(labels["null"], "");
}

TEST(SweepExpand, ApplySweepPointSetsValuesAndSeedAndSwitchesComponentTypes) {
  nlohmann::json layered = test::tiny_experiment();
  layered["sweep"] = {{"seeds", {0}}};
  SweepTrial t;
  t.values = {{"components.masker.type", "other"}, {"components.masker.abort_at", 2}, {"train.lr", 0.5}};
  t.seed = 9;
  const nlohmann::json out = apply_sweep_point(layered, t);
  EXPECT_FALSE(out.contains("sweep"));
  EXPECT_EQ(out["components"]["masker"], nlohmann::json({{"type", "other"}, {"abort_at", 2}}))
      << "multiblock's min_keep is dropped with its type";
  EXPECT_EQ(out["train"]["lr"], 0.5);
  EXPECT_EQ(out["seed"], 9);
  // The same type keeps the component's keys.
  t.values = {{"components.masker.type", "multiblock"}};
  EXPECT_EQ(apply_sweep_point(layered, t)["components"]["masker"]["min_keep"], 4);
}

TEST(SweepPlan, EveryTrialIsResolvedWithPointThenSets) {
  test::TempDir tmp;
  nlohmann::json e = test::tiny_experiment();
  // (16 px would be a 4x4 grid, where the masker's min_keep 4 is refused when the sweep is planned)
  e["sweep"] = nlohmann::json::parse(R"({"axes": {"data.image_size": [32, 64]}, "seeds": [0, 1]})");
  test::write_text(tmp / "e.json", e.dump());
  const auto& reg = test::builtin_plugins().registry();
  const SweepPlan plan = plan_sweep(load_layered(tmp / "e.json"), {"train.lr=0.25"}, reg, "e.json");
  ASSERT_EQ(plan.trials.size(), 4u);
  EXPECT_EQ(plan.name, "tiny");
  EXPECT_EQ(plan.trials[2].trial.name, "image_size64_s0");
  for (const auto& p : plan.trials) {
    EXPECT_FALSE(p.resolved.contains("sweep"));
    EXPECT_EQ(p.resolved["seed"], p.trial.seed);
    EXPECT_EQ(p.resolved["data"]["image_size"], p.trial.values["data.image_size"]);
    EXPECT_EQ(p.resolved["components"]["encoder"]["img_size"], p.trial.values["data.image_size"])
        << "the point is applied before resolution, so img_size still follows data.image_size";
    EXPECT_EQ(p.resolved["train"]["lr"], 0.25);
    EXPECT_TRUE(p.resolved["components"]["masker"].contains("pred_mask_scale")) << "plugin defaults materialised";
    EXPECT_EQ(p.config_sha, config_hash(p.resolved));
  }
  EXPECT_NE(plan.trials[0].config_sha, plan.trials[1].config_sha);
  const nlohmann::json sj = sweep_json(plan, {});
  EXPECT_EQ(sj["format"], "ijepa-sweep");
  EXPECT_EQ(sj["version"], 1);
  EXPECT_EQ(sj["trials"][3]["name"], "image_size64_s1");
  EXPECT_EQ(sj["trials"][3]["values"], nlohmann::json({{"data.image_size", 64}}));

  auto plan_error = [&](const nlohmann::json& sweep, const std::vector<std::string>& sets, const std::string& needle) {
    nlohmann::json x = test::tiny_experiment();
    x["sweep"] = sweep;
    test::write_text(tmp / "x.json", x.dump());
    try {
      plan_sweep(load_layered(tmp / "x.json"), sets, reg, "x.json");
      ADD_FAILURE() << "no error for " << sweep.dump();
    } catch (const std::exception& err) {
      const std::string w = err.what();
      EXPECT_NE(w.find(needle), std::string::npos) << w;
      EXPECT_EQ(w.find('\n'), std::string::npos) << w;
    }
  };
  // A trial whose config does not resolve is named, with the key.
  plan_error(R"({"axes": {"components.masker.min_keep": [4, "four"]}})"_json, {}, "trial 'min_keepfour_s3'");
  plan_error(R"({"axes": {"components.masker.min_keep": [4, "four"]}})"_json, {}, "min_keep");
  plan_error(R"({"axes": {"train.lr": [1]}})"_json, {"train.lr=2"}, "'train.lr' is a sweep axis");
  plan_error(R"({"axes": {"train.lr": [1]}})"_json, {"seed=2"}, "sweep.seeds");
  plan_error(R"({"axes": {"+train.nope": [1]}})"_json, {}, "train.nope");
  // The weights a trial starts from must be there before any trial runs (--dry-run included).
  plan_error(R"({"axes": {"train.init_from": ["/nowhere/ckpt.safetensors"]}})"_json, {},
             "train.init_from: no such checkpoint file or run directory '/nowhere/ckpt.safetensors'");
  // A --set of another type replaces the component after the trial's values: an axis of its keys would do nothing.
  plan_error(R"({"axes": {"components.masker.min_keep": [2, 3]}})"_json, {"components.masker.type=random"},
             "would change nothing; set the type in the sweep file");
  (void)plan_sweep(load_layered(tmp / "e.json"), {"components.masker.type=random"}, reg, "e.json");  // no such axis
  {
    test::write_text(tmp / "plain.json", test::tiny_experiment().dump());
    EXPECT_THROW(plan_sweep(load_layered(tmp / "plain.json"), {}, reg, "plain.json"), ConfigFileError);
  }
}

TEST(SweepPlan, BaseFileMissingOrIncludingItselfIsAnError) {
  test::TempDir tmp;
  test::write_text(tmp / "missing.json", R"({"base": ["nope.json"], "sweep": {"seeds": [0]}})");
  try {
    load_layered(tmp / "missing.json");
    ADD_FAILURE() << "no error";
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.json: file not found"), std::string::npos) << e.what();
  }
  test::write_text(tmp / "self.json", R"({"base": ["self.json"], "sweep": {"seeds": [0]}})");
  try {
    load_layered(tmp / "self.json");
    ADD_FAILURE() << "no error";
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find("self.json: base files form a cycle"), std::string::npos) << e.what();
  }
  // A sweep in a base file is layered like any key (a child may override its seeds).
  test::write_text(tmp / "base.json", R"({"sweep": {"axes": {"train.lr": [1, 2]}, "seeds": [0]}})");
  test::write_text(tmp / "child.json", R"({"base": ["base.json"], "sweep": {"seeds": [4, 5]}})");
  const nlohmann::json l = load_layered(tmp / "child.json");
  EXPECT_EQ(l["sweep"]["seeds"], nlohmann::json({4, 5}));
  EXPECT_EQ(l["sweep"]["axes"]["train.lr"], nlohmann::json({1, 2}));
}

TEST(SweepPlan, TheExampleSweepFileExpandsAndResolves) {
  // experiments/sweeps/example_masker_scale.json, as documented in experiments/README.md (not run here).
  const fs::path f = fs::path(IJEPA_TEST_SOURCE_DIR) / ".." / "experiments" / "sweeps" / "example_masker_scale.json";
  const SweepPlan plan = plan_sweep(load_layered(f), {}, test::builtin_plugins().registry(), f.string());
  ASSERT_EQ(plan.trials.size(), 12u);
  EXPECT_EQ(plan.name, "cifar10_masker_scale");
  // num_pred_masks sorts before pred_mask_scale, so it is the outer axis; seeds are innermost.
  EXPECT_EQ(plan.trials[0].trial.name, "pms0.1-0.15_npm2_s0");
  EXPECT_EQ(plan.trials[1].trial.name, "pms0.1-0.15_npm2_s1");
  EXPECT_EQ(plan.trials[2].trial.name, "pms0.15-0.2_npm2_s0");
  EXPECT_EQ(plan.trials[11].trial.name, "pms0.2-0.3_npm4_s1");
  for (const auto& p : plan.trials) {
    EXPECT_EQ(p.resolved["data"]["source"], "cifar10_jpeg");
    EXPECT_EQ(p.resolved["components"]["masker"]["pred_mask_scale"],
              p.trial.values["components.masker.pred_mask_scale"]);
    EXPECT_EQ(p.resolved["components"]["evaluators"].size(), 2u);
  }
}

// --jobs N on one machine: each trial's share of the cores and, for CUDA trials, of the card's memory.
TEST(SweepJobs, TrialEnvironmentSplitsThreadsAndGpuMemory) {
  const std::vector<std::string> parent{"PATH=/usr/bin", "HOME=/root"};
  EXPECT_EQ(trial_environment(parent, 1, 16, true), parent);  // one at a time: the parent's environment
  auto has = [](const std::vector<std::string>& env, const std::string& kv) {
    return std::find(env.begin(), env.end(), kv) != env.end();
  };
  const auto cpu = trial_environment(parent, 4, 16, false);
  EXPECT_TRUE(has(cpu, "OMP_NUM_THREADS=4"));
  EXPECT_TRUE(has(cpu, "IJEPA_SWEEP_JOBS=4"));
  for (const auto& kv : cpu) EXPECT_EQ(kv.rfind("PYTORCH_CUDA_ALLOC_CONF=", 0), std::string::npos) << kv;
  const auto gpu = trial_environment(parent, 8, 16, true);
  EXPECT_TRUE(has(gpu, "OMP_NUM_THREADS=2"));
  EXPECT_TRUE(has(gpu, "PYTORCH_CUDA_ALLOC_CONF=per_process_memory_fraction:0.118"));
  EXPECT_TRUE(has(trial_environment(parent, 32, 16, false), "OMP_NUM_THREADS=1"));  // never 0
  // The parent's own choices win; an allocator setting is kept and extended.
  const auto mine = trial_environment({"OMP_NUM_THREADS=3", "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                                       "IJEPA_SWEEP_JOBS=9"},
                                      2, 16, true);
  EXPECT_TRUE(has(mine, "OMP_NUM_THREADS=3"));
  EXPECT_FALSE(has(mine, "OMP_NUM_THREADS=8"));
  EXPECT_TRUE(has(mine, "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True,per_process_memory_fraction:0.475"));
  EXPECT_TRUE(has(mine, "IJEPA_SWEEP_JOBS=2"));
  EXPECT_FALSE(has(mine, "IJEPA_SWEEP_JOBS=9"));
  const auto fixed = trial_environment({"PYTORCH_CUDA_ALLOC_CONF=per_process_memory_fraction:0.3"}, 2, 16, true);
  EXPECT_TRUE(has(fixed, "PYTORCH_CUDA_ALLOC_CONF=per_process_memory_fraction:0.3"));
  EXPECT_DOUBLE_EQ(gpu_share(1), 0.95);
  EXPECT_DOUBLE_EQ(gpu_share(3), 0.316);
  EXPECT_THROW(gpu_share(0), std::invalid_argument);
}

TEST(SweepJobs, OutOfMemoryErrorNamesTheTrialsShare) {
  const std::string torch_line = "CUDA out of memory. Tried to allocate 2.00 GiB\nmore text";
  ::unsetenv("IJEPA_SWEEP_JOBS");
  ::unsetenv("PYTORCH_CUDA_ALLOC_CONF");
  std::string m = util::out_of_memory_message("cuda:0", 12, torch_line);
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_NE(m.find("out of GPU memory on cuda:0 at step 12 (CUDA out of memory. Tried to allocate 2.00 GiB)"),
            std::string::npos) << m;
  EXPECT_NE(m.find("lower train.batch_size"), std::string::npos) << m;
  ::setenv("IJEPA_SWEEP_JOBS", "8", 1);
  ::setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True,per_process_memory_fraction:0.118", 1);
  m = util::out_of_memory_message("cuda", -1, torch_line);
  EXPECT_NE(m.find("out of GPU memory on cuda (CUDA out"), std::string::npos) << m;
  EXPECT_NE(m.find("this trial may use 0.118 of the card's memory, one share of `ijepa sweep --jobs 8`; run fewer "
                   "trials at once (--jobs)"),
            std::string::npos) << m;
  ::unsetenv("IJEPA_SWEEP_JOBS");
  m = util::out_of_memory_message("cuda", 3, torch_line);
  EXPECT_NE(m.find("PYTORCH_CUDA_ALLOC_CONF limits this process to 0.118"), std::string::npos) << m;
  ::unsetenv("PYTORCH_CUDA_ALLOC_CONF");
}
