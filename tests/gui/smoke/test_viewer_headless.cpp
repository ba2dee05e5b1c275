// The headless tier: the whole viewer UI drawn with a Dear ImGui context and no window, no backend, no GL
// (textures through NullTextureCache), on the built-in plugins and a tiny trained run.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>
#include <imgui.h>
#include <imgui_internal.h>

#include "ijepa/host/config/experiment.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "ijepa/host/run/training_data.hpp"
#include "views/viewer.hpp"

namespace fs = std::filesystem;
using namespace ijepa;
using namespace ijepa::gui;

namespace {

struct Headless {
  Headless() {
    ctx = ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1280, 800);
    io.DeltaTime = 1.0f / 60.0f;
    io.IniFilename = nullptr;
    unsigned char* px = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
    io.Fonts->SetTexID(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(1)));
  }
  ~Headless() { ImGui::DestroyContext(ctx); }
  void frames(Viewer& v, int n) {
    for (int i = 0; i < n; ++i) {
      ImGui::NewFrame();
      v.frame();
      ImGui::Render();
    }
  }
  // Draws until the viewer's work is done and collected (results can start more work: model -> attention).
  void settle(Viewer& v) {
    for (int i = 0; i < 200 && v.busy(); ++i) {
      v.wait_idle();
      frames(v, 1);
    }
    frames(v, 2);
  }
  ImGuiContext* ctx;
};

// A finished tiny run on synthetic data (8x8 patch grid), shared by the tests of this file.
const fs::path& tiny_run() {
  static fs::path dir = [] {
    fs::path d = test::temp_dir("gui_run") / "run";
    nlohmann::json exp = test::tiny_experiment();
    exp["data"]["synthetic_classes"] = 4;
    exp["data"]["synthetic_count"] = 64;
    exp["train"]["epochs"] = 1;
    host::TrainOptions o;
    o.out = d;
    o.quiet = true;
    host::run_training(host::resolve_experiment(test::layered(exp), {}, test::builtin_plugins().registry(), "test"),
                       test::builtin_plugins(), o);
    return d;
  }();
  return dir;
}

}  // namespace

TEST(ViewerHeadless, EveryPanelDrawsOnATrainedRun) {
  Headless g;
  NullTextureCache tex;
  ViewerOptions o;
  o.run = tiny_run().string();
  Viewer v(test::builtin_plugins(), tex, o);
  g.settle(v);
  for (Panel p : {Panel::mask, Panel::attention, Panel::prediction, Panel::runs}) {
    v.select(p);
    g.frames(v, 2);
    g.settle(v);
    EXPECT_EQ(v.drawn_panel(), p) << panel_name(p);
    EXPECT_NE(ImGui::FindWindowByName("ijepa-viewer"), nullptr);
    EXPECT_EQ(v.capture().panel, panel_name(p));
  }
  EXPECT_EQ(v.model_error(), "");
  EXPECT_EQ(v.data_error(), "");
  // Mask lab: the run's own masker (multi-block, min_keep 4) on the run's 8x8 grid (32 px, patch 4).
  const MaskFrame& m = v.mask_frame();
  EXPECT_EQ(m.error, "");
  EXPECT_EQ(m.grid.count(), 64);
  EXPECT_FALSE(m.context.empty());
  EXPECT_EQ(m.targets.size(), 4u);
  EXPECT_GT(m.image.width, 0);
  // Attention: a softmax row over the run's 8x8 grid, the centre patch as query, the last block.
  const AttentionFrame& a = v.attention_frame();
  EXPECT_EQ(a.error, "");
  ASSERT_EQ(a.map.size(), 64u);
  double sum = 0;
  for (float x : a.map) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-4);
  EXPECT_EQ(a.query, 4 * 8 + 4);
  EXPECT_EQ(a.block, 1);
  // Predictions: cosine in [-1, 1] on target patches, NaN elsewhere; PCA images on the grid.
  const PredictionFrame& p = v.prediction_frame();
  EXPECT_EQ(p.error, "");
  ASSERT_EQ(p.cosine.size(), 64u);
  int finite = 0;
  for (float c : p.cosine) {
    if (std::isfinite(c)) {
      ++finite;
      EXPECT_GE(c, -1.0001f);
      EXPECT_LE(c, 1.0001f);
    }
  }
  EXPECT_GT(finite, 0);
  EXPECT_LT(finite, 64);
  EXPECT_EQ(p.target_pca.width, 8);
  EXPECT_EQ(p.predicted_pca.height, 8);
  EXPECT_GT(p.mean_l2, 0.0);
  // Runs: the run itself, its metrics read.
  EXPECT_EQ(v.runs_listed(), 1u);
  EXPECT_GT(tex.uploads(), 5u);
}

// The mask lab opened on a run shows the run's masker on the run's grid (it showed the default multi-block masker on
// 224 px whatever had trained the model); --masker or a grid on the command line still choose.
TEST(ViewerHeadless, TheMaskLabOfARunStartsFromItsMasker) {
  Headless g;
  NullTextureCache tex;
  const fs::path d = test::temp_dir("gui_run_masker");
  fs::copy(tiny_run(), d / "r", fs::copy_options::recursive);
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(d / "r" / "config.resolved.json"));
  cfg["components"]["masker"]["num_pred_masks"] = 2;
  test::write_text(d / "r" / "config.resolved.json", cfg.dump());
  ViewerOptions o;
  o.run = (d / "r").string();
  std::vector<std::int64_t> ctx8;
  {
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_EQ(v.mask_frame().error, "");
    EXPECT_EQ(v.mask_frame().grid.count(), 64);
    EXPECT_EQ(v.mask_frame().targets.size(), 2u) << "the run's num_pred_masks";
    // Drawn as training draws them: a batch of the run's train.batch_size (8), whose multi-block contexts are cut
    // to the batch's smallest; it showed a batch of one, with a context training never sees.
    EXPECT_EQ(v.mask_frame().batch_size, 8);
    EXPECT_EQ(v.mask_frame().row, 0);
    ctx8 = v.mask_frame().context;
  }
  o.mask_batch_size = 1;
  {
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    const std::vector<std::int64_t>& ctx1 = v.mask_frame().context;
    EXPECT_LE(ctx8.size(), ctx1.size());
    EXPECT_TRUE(std::equal(ctx8.begin(), ctx8.end(), ctx1.begin())) << "the same draw, cut to the batch's smallest";
  }
  o.mask_batch_size = 0;
  o.image_index = 11;
  {
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_EQ(v.mask_frame().row, 3) << "image 11 is row 11 % 8 of its batch";
  }
  o.image_index = 0;
  o.masker = "multiblock";
  o.masker_given = true;
  o.image_size = 224;
  o.patch_size = 16;
  o.grid_given = true;
  {
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_EQ(v.mask_frame().grid.count(), 196);
    EXPECT_EQ(v.mask_frame().targets.size(), 4u) << "the plugin's defaults";
  }
  fs::remove_all(d);
}

// The masks the mask lab and the prediction panel draw for a run (or its checkpoint file) are the ones that trained
// it: the run's seed (3 here), not 0, and the run's batch size; --seed and --batch choose others.
TEST(ViewerHeadless, TheMasksOfARunAreTheOnesThatTrainedIt) {
  Headless g;
  NullTextureCache tex;
  const nlohmann::json resolved = nlohmann::json::parse(std::ifstream(tiny_run() / "config.resolved.json"));
  ASSERT_EQ(resolved.at("seed"), 3);
  auto row0 = [&](std::uint64_t batch, std::uint64_t seed) {
    nlohmann::json r = resolved;
    r["seed"] = seed;
    auto masker = host::make_rank_masker(r, test::builtin_plugins().registry(), 0);
    const at::Tensor c = masker->sample(8, batch).context.front()[0];
    return std::vector<std::int64_t>(c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel());
  };
  ASSERT_NE(row0(2, 3), row0(2, 0)) << "the seeds must give other masks for this test to tell them apart";
  for (const fs::path& run : {tiny_run(), tiny_run() / "checkpoints" / "latest.safetensors"}) {
    ViewerOptions o;
    o.run = run.string();
    o.batch_number = 2;
    o.panel = Panel::prediction;
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_EQ(v.mask_frame().batch_size, 8) << run;
    EXPECT_EQ(v.mask_frame().context, row0(2, 3)) << run << ": the mask lab at --batch 2 with the run's seed";
    ASSERT_EQ(v.prediction_frame().error, "") << run;
    EXPECT_EQ(v.prediction_frame().context, row0(2, 3)) << run << ": the prediction panel starts at --batch too";
  }
  ViewerOptions o;
  o.run = tiny_run().string();
  o.batch_number = 2;
  o.seed = 0;
  o.seed_given = true;
  Viewer v(test::builtin_plugins(), tex, o);
  g.settle(v);
  EXPECT_EQ(v.mask_frame().context, row0(2, 0)) << "--seed 0 chooses seed 0";
}

TEST(ViewerHeadless, AttentionFollowsTheChosenQueryAndHead) {
  Headless g;
  NullTextureCache tex;
  ViewerOptions o;
  o.run = tiny_run().string();
  o.panel = Panel::attention;
  o.head = 1;
  o.block = 0;
  Viewer v(test::builtin_plugins(), tex, o);
  g.settle(v);
  const std::vector<float> before = v.attention_frame().map;
  v.set_attention_query(0);
  g.settle(v);
  EXPECT_EQ(v.attention_frame().query, 0);
  EXPECT_EQ(v.attention_frame().head, 1);
  EXPECT_EQ(v.attention_frame().block, 0);
  EXPECT_NE(v.attention_frame().map, before);
}

TEST(ViewerHeadless, MaskStatisticsShowTheFaithfulSamplersUnusedLastRowAndColumn) {
  Headless g;
  NullTextureCache tex;
  ViewerOptions o;
  o.data = "synthetic";
  o.stats_batches = 20;
  o.stats_batch_size = 16;
  Viewer v(test::builtin_plugins(), tex, o);
  g.settle(v);
  const MaskStatsSummary& s = v.stats_frame().summary;
  ASSERT_EQ(v.stats_frame().error, "");
  EXPECT_EQ(s.samples, 320);
  ASSERT_EQ(s.grid.count(), 196);
  for (int i = 0; i < 14; ++i) {
    EXPECT_EQ(s.context_freq[static_cast<std::size_t>(13 * 14 + i)], 0.0f);  // last row
    EXPECT_EQ(s.context_freq[static_cast<std::size_t>(i * 14 + 13)], 0.0f);  // last column
    EXPECT_EQ(s.target_freq[static_cast<std::size_t>(13 * 14 + i)], 0.0f);
  }
  EXPECT_EQ(s.never_used, 27);
  EXPECT_GT(s.mean_ratio, 0.05);
  EXPECT_LT(s.mean_ratio, 0.6);
  // The opt-in "fixed" variant (spec 2.6) reaches the last row and column.
  ViewerOptions f = o;
  f.masker_sets = {"variant=fixed"};
  Viewer vf(test::builtin_plugins(), tex, f);
  g.settle(vf);
  ASSERT_EQ(vf.stats_frame().error, "");
  EXPECT_EQ(vf.stats_frame().summary.never_used, 0);
  EXPECT_GT(vf.stats_frame().summary.context_freq[195], 0.0f);
  EXPECT_EQ(v.mask_error(), "");
}

TEST(ViewerHeadless, BadInputIsAMessageInThePanelNeverACrash) {
  Headless g;
  NullTextureCache tex;
  const fs::path d = test::temp_dir("gui_bad");
  // An image that fails to decode.
  test::write_text(d / "broken.jpg", "this is not a jpeg");
  {
    ViewerOptions o;
    o.data = (d / "broken.jpg").string();
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_NE(v.data_error().find("broken.jpg"), std::string::npos) << v.data_error();
    g.frames(v, 2);
  }
  // An invalid masker config, then an unknown masker type.
  {
    ViewerOptions o;
    o.data = "synthetic";
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    v.set_masker_config({{"type", "multiblock"}, {"num_pred_masks", -2}});
    g.settle(v);
    EXPECT_NE(v.mask_error().find("num_pred_masks"), std::string::npos) << v.mask_error();
    v.set_masker_config({{"type", "no_such_masker"}});
    g.settle(v);
    EXPECT_NE(v.mask_error().find("no_such_masker"), std::string::npos) << v.mask_error();
    for (Panel p : {Panel::mask, Panel::attention, Panel::prediction, Panel::runs}) {
      v.select(p);
      g.frames(v, 2);
    }
  }
  // A run directory missing its checkpoint (as while a run starts).
  fs::create_directories(d / "starting");
  test::write_text(d / "starting" / "config.resolved.json", test::tiny_experiment().dump());
  {
    ViewerOptions o;
    o.run = (d / "starting").string();
    o.panel = Panel::attention;
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_NE(v.model_error().find("no checkpoint"), std::string::npos) << v.model_error();
    g.frames(v, 2);
  }
  // A checkpoint of another architecture than its recorded config says.
  fs::copy(tiny_run(), d / "other", fs::copy_options::recursive);
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(d / "other" / "config.resolved.json"));
  cfg["components"]["encoder"]["embed_dim"] = 48;
  test::write_text(d / "other" / "config.resolved.json", cfg.dump());
  {
    ViewerOptions o;
    o.run = (d / "other").string();
    o.panel = Panel::prediction;
    Viewer v(test::builtin_plugins(), tex, o);
    g.settle(v);
    EXPECT_NE(v.model_error().find("target_encoder."), std::string::npos) << v.model_error();
    g.frames(v, 2);
    EXPECT_TRUE(v.prediction_frame().cosine.empty());  // nothing predicted, the panel asks for a model
    EXPECT_FALSE(v.capture().ready);
  }
}

// What a researcher's typo gave: --run on a path that is not there opened an empty viewer (a "successful" blank
// screenshot); options past the model or data were clamped without a word; a sweep opened one trial.
TEST(ViewerHeadless, CommandLineMistakesAreSaidAndASweepOpensAllItsTrials) {
  Headless g;
  NullTextureCache tex;
  const fs::path d = test::temp_dir("gui_cli");
  auto error_of = [&](const ViewerOptions& o) -> std::string {
    try {
      Viewer v(test::builtin_plugins(), tex, o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  ViewerOptions missing;
  missing.run = (d / "typo").string();
  EXPECT_EQ(error_of(missing), "--run " + (d / "typo").string() +
                                   ": no such run directory, sweep directory or checkpoint");
  fs::create_directories(d / "empty");
  ViewerOptions empty;
  empty.run = (d / "empty").string();
  empty.panel = Panel::attention;
  EXPECT_NE(error_of(empty).find("not a run directory (no config.resolved.json) or a checkpoint file, which the "
                                 "attention panel needs"),
            std::string::npos)
      << error_of(empty);
  empty.panel = Panel::runs;  // browsing a folder with no runs in it yet is fine
  EXPECT_EQ(error_of(empty), "");
  // `ijepa train` writes runs/<name>/<time>: given runs/<name>, the error names the newest run to pass; given a
  // sweep, one of its trials (a sweep with the attention panel opened "no model" and exited 0).
  fs::create_directories(d / "runs_of" / "tiny");
  fs::create_directory_symlink(tiny_run(), d / "runs_of" / "tiny" / "20261207-120952");
  ViewerOptions folder;
  folder.run = (d / "runs_of" / "tiny").string();
  folder.panel = Panel::prediction;
  EXPECT_NE(error_of(folder).find("which the prediction panel needs; its newest run is " +
                                  (d / "runs_of" / "tiny" / "20261207-120952").string()),
            std::string::npos)
      << error_of(folder);
  fs::create_directories(d / "sweep" / "trials");
  test::write_text(d / "sweep" / "sweep.json", "{}");
  fs::create_directory_symlink(tiny_run(), d / "sweep" / "trials" / "s0");
  ViewerOptions of_sweep;
  of_sweep.run = (d / "sweep").string();
  of_sweep.panel = Panel::attention;
  EXPECT_NE(error_of(of_sweep).find(": a sweep directory, not a run directory (no config.resolved.json) or a "
                                    "checkpoint file, which the attention panel needs; one of its trials is " +
                                 (d / "sweep" / "trials" / "s0").string()),
            std::string::npos)
      << error_of(of_sweep);

  ViewerOptions far;
  far.run = tiny_run().string();
  far.panel = Panel::attention;
  far.block = 7;
  far.head = 99;
  {
    Viewer v(test::builtin_plugins(), tex, far);
    g.settle(v);
    EXPECT_EQ(v.option_error(), "--block 7: the model has 2 blocks (0..1); showing the last");
    EXPECT_EQ(v.attention_frame().block, 1);
  }
  far.block = -1;
  {
    Viewer v(test::builtin_plugins(), tex, far);
    g.settle(v);
    EXPECT_EQ(v.option_error().rfind("--head 99: the model has ", 0), 0u) << v.option_error();
  }
  far.head = -1;
  far.image_index = 1000000;
  {
    Viewer v(test::builtin_plugins(), tex, far);
    g.settle(v);
    EXPECT_EQ(v.option_error().rfind("--index 1000000: the data has ", 0), 0u) << v.option_error();
    EXPECT_NE(v.option_error().find(" images (0.."), std::string::npos) << v.option_error();
  }
  far.image_index = 0;
  {
    Viewer v(test::builtin_plugins(), tex, far);
    g.settle(v);
    EXPECT_EQ(v.option_error(), "");
  }

  // A sweep given as --run: its entry and all of its trials are selected.
  const fs::path sweep = d / "sw";
  fs::create_directories(sweep / "trials");
  test::write_text(sweep / "sweep.json", "{}");
  for (const char* t : {"b_s0", "a_s0", "c_s1"}) {
    fs::copy(tiny_run(), sweep / "trials" / t, fs::copy_options::recursive);
  }
  ViewerOptions sw;
  sw.run = sweep.string();
  sw.panel = Panel::runs;
  Viewer v(test::builtin_plugins(), tex, sw);
  g.settle(v);
  EXPECT_EQ(v.runs_listed(), 4u);
  EXPECT_EQ(v.runs_selected(), 4u) << "the sweep and its three trials";
  fs::remove_all(d);
}
