// Bad input on the command line and in experiment files, through the real binary: one line saying what is wrong and
// where, a non-zero exit, checked before any work and before anything is written (what a bad-input audit found:
// sizes typed with digits too many reached the OOM killer, an integer past int64 wrapped, outputs were checked only
// at the end or overwritten).
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "host/run/test_util.hpp"

namespace fs = std::filesystem;

namespace {

using BadOut = ijepa::test::CliOut;
BadOut run_bad(const std::string& args) { return ijepa::test::cli(args); }

void expect_one_line(const BadOut& o, int rc, const std::vector<std::string>& needles, const std::string& what) {
  EXPECT_EQ(o.rc, rc) << what << "\n" << o.text;
  EXPECT_EQ(ijepa::test::count_lines(o.text), 1u) << what << "\n" << o.text;
  for (const auto& n : needles) EXPECT_NE(o.text.find(n), std::string::npos) << what << ": " << n << "\n" << o.text;
}

}  // namespace

TEST(CliBadInput, HelpOfAnUnknownCommandIsAnError) {
  expect_one_line(run_bad("help nosuch"), 2, {"ijepa help: no command 'nosuch'", "ijepa --help"}, "help nosuch");
  expect_one_line(run_bad("help traim"), 2, {"did you mean train?"}, "help traim");
  for (const char* ok : {"help -h", "help --help", "help train -h", "help bench train"}) {
    const BadOut o = run_bad(ok);
    EXPECT_EQ(o.rc, 0) << ok << "\n" << o.text;
    EXPECT_NE(o.text.find("usage: ijepa"), std::string::npos) << ok << "\n" << o.text;
  }
  const BadOut bench = run_bad("help bench");
  EXPECT_EQ(bench.rc, 0) << bench.text;
  EXPECT_NE(bench.text.find("usage: ijepa bench train"), std::string::npos) << bench.text;
  EXPECT_NE(bench.text.find("usage: ijepa bench data"), std::string::npos) << bench.text;
}

TEST(CliBadInput, SizesBeyondTheMachineStopBeforeAnyAllocation) {
  const fs::path dir = ijepa::test::temp_dir("cli_bad_sizes");
  const fs::path exp = dir / "e.json", out = dir / "run";
  ijepa::test::write_text(exp, ijepa::test::tiny_experiment().dump());
  const std::string train = "train '" + exp.string() + "' --out '" + out.string() + "' ";
  // A depth of 2^32 + 1 grew to 23 GB before the OOM killer ended the process without a word.
  expect_one_line(run_bad(train + "--set components.encoder.depth=4294967297"), 1,
                  {"components.encoder", "keys 'depth', 'embed_dim', 'mlp_ratio', 'img_size'", "the encoder would hold",
                   "GiB of memory"},
                  "encoder depth");
  expect_one_line(run_bad(train + "--set components.predictor.embed_dim=4000000"), 1,
                  {"components.predictor", "the predictor would hold"}, "predictor width");
  expect_one_line(run_bad(train + "--set data.image_size=4194304"), 1,
                  {"data.image_size / components.encoder.patch_size", "1048576x1048576 patch grid",
                   "above the 1048576 patches"},
                  "image size");
  expect_one_line(run_bad(train + "--set train.batch_size=100000000 --set data.image_size=256"), 1,
                  {"train.batch_size: one batch of 100000000 images of 256 px takes", "GiB of memory"}, "batch");
  // 2^63 wrapped to a negative batch size ("loader: batch_size must be >= 1").
  expect_one_line(run_bad(train + "--set train.batch_size=9223372036854775808"), 1,
                  {"train.batch_size", "9223372036854775808 is out of range (at most 9223372036854775807)"},
                  "int64 overflow");
  expect_one_line(run_bad(train + "--set 'train.ema=[1.5,1.0]'"), 1,
                  {"train.ema: each momentum must be within [0, 1], got [1.5,1.0] (from --set train.ema=[1.5,1.0])"},
                  "ema");
  // Whether a value came from the file or from the command line.
  expect_one_line(run_bad(train + "--set train.lr=abc"), 1,
                  {"error: key 'train.lr' of the experiment: expected number, got \"abc\" (from --set train.lr=abc)"},
                  "lr from --set");
  nlohmann::json bad = ijepa::test::tiny_experiment();
  bad["train"]["lr"] = -1;
  ijepa::test::write_text(exp, bad.dump());
  const BadOut from_file = run_bad(train);
  expect_one_line(from_file, 1, {"e.json: train.lr: must be >= 0"}, "lr from the file");
  EXPECT_EQ(from_file.text.find("--set"), std::string::npos) << from_file.text;
  // A value the file has wrong is the file's, even with a --set of the same key (the file is checked alone first).
  bad["train"]["lr"] = "abc";
  ijepa::test::write_text(exp, bad.dump());
  const BadOut file_type = run_bad(train + "--set train.lr=0.001");
  expect_one_line(file_type, 1, {"e.json: key 'train.lr' of the experiment: expected number, got \"abc\""}, "file type");
  EXPECT_EQ(file_type.text.find("(from --set"), std::string::npos) << file_type.text;
  EXPECT_FALSE(fs::exists(out));
  expect_one_line(run_bad("masks --masker multiblock --image-size 2000000000 --patch-size 1 --batch 2 --steps 1 --seed 0"),
                  2, {"--image-size / --patch-size", "patch grid"}, "masks grid");
  expect_one_line(run_bad("masks --masker random --image-size 32 --patch-size 4 --batch 2000000000 --steps 1 --seed 0"), 2,
                  {"--batch expects at most 1048576"}, "masks batch");
  fs::remove_all(dir);
}

TEST(CliBadInput, OutputsAreCheckedBeforeTheWorkAndNeverOverwrittenByEmbed) {
  const fs::path dir = ijepa::test::temp_dir("cli_bad_outputs");
  const fs::path feats = dir / "feats.safetensors";
  ijepa::test::write_text(feats, "features of an earlier run");
  // Checked before the checkpoint is even opened (the one given here does not exist).
  expect_one_line(run_bad("embed --checkpoint '" + (dir / "none.safetensors").string() + "' --data synthetic --out '" +
                      feats.string() + "'"),
                  2, {"--out " + feats.string() + ": exists; it is never overwritten"}, "embed over a file");
  EXPECT_EQ(ijepa::test::read_text(feats), "features of an earlier run");
  expect_one_line(run_bad("eval '" + (dir / "none.safetensors").string() + "' --evaluator knn --out '" + dir.string() + "'"),
                  2, {"--out " + dir.string() + ": is a directory"}, "eval into a directory");
  expect_one_line(run_bad("masks --masker multiblock --image-size 64 --patch-size 4 --batch 2 --steps 1 --seed 0 --out '" +
                      (dir / "missing" / "m.json").string() + "'"),
                  2, {"--out", "the folder " + (dir / "missing").string() + " does not exist"}, "masks into nowhere");
  // An experiment file where a checkpoint belongs: said so, not only "header length ... exceeds the 100 MiB cap".
  const fs::path exp = dir / "e.json";
  ijepa::test::write_text(exp, ijepa::test::tiny_experiment().dump(2));
  expect_one_line(run_bad("eval '" + exp.string() + "' --evaluator knn"), 1,
                  {"not a safetensors file: it begins with the text \"{   \"com"}, "eval of a JSON file");
  fs::remove_all(dir);
}

// An error names the file to edit: the base file or the "overrides" entry that set the key (they used to name the
// including file), data values are checked before the run starts (an unknown data.source was found at data opening
// and named no file), for ijepa train and ijepa sweep alike.
TEST(CliBadInput, AValueErrorNamesTheFileThatSetTheKey) {
  const fs::path dir = ijepa::test::temp_dir("cli_bad_origin");
  const fs::path out = dir / "run";
  nlohmann::json base = ijepa::test::tiny_experiment();
  base["train"]["lr"] = "abc";
  ijepa::test::write_text(dir / "base.json", base.dump());
  ijepa::test::write_text(dir / "top.json", R"({"base": ["base.json"], "name": "top"})");
  const std::string top = (dir / "top.json").string(), base_file = (dir / "base.json").string();
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() + "'"), 1,
                  {"error: " + base_file + ": key 'train.lr' of the experiment: expected number, got \"abc\""},
                  "a base file's type error");
  ijepa::test::write_text(dir / "top.json", R"({"base": ["base.json"], "train": {"lr": 0.001},
      "overrides": {"train.epochs": -1}})");
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() + "'"), 1,
                  {"error: " + top + " (overrides.train.epochs): train.epochs: must be > 0"}, "an overrides entry");
  base["train"]["lr"] = 0.001;
  base["data"]["source"] = "nonsense";
  ijepa::test::write_text(dir / "base.json", base.dump());
  ijepa::test::write_text(dir / "top.json", R"({"base": ["base.json"], "data": {"workers": 1000}})");
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() + "' --set data.workers=1"), 1,
                  {"error: " + base_file + ": data.source: unknown source 'nonsense' (available:"}, "data.source");
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() + "' --set data.source=synthetic"), 1,
                  {"error: " + top + ": data.workers: expected 0..256 loader threads, got 1000"}, "data.workers");
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() +
                          "' --set data.source=synthetic --set data.workers=1 --set data.limit=-1"),
                  1, {"error: data.limit: must be >= 0", "(from --set data.limit=-1)"}, "data.limit");
  // A component that rejects its config when it is built names the file that set the key, too.
  base["data"]["source"] = "synthetic";
  base["components"]["masker"]["min_keep"] = 100;
  ijepa::test::write_text(dir / "base.json", base.dump());
  ijepa::test::write_text(dir / "top.json", R"({"base": ["base.json"]})");
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() + "'"), 1,
                  {"error: " + base_file + ": components.masker: masker/multiblock", "key 'min_keep': 100"},
                  "a masker built from a base file");
  expect_one_line(run_bad("train '" + top + "' --out '" + out.string() + "' --set components.masker.min_keep=99"), 1,
                  {"error: components.masker: masker/multiblock", "(from --set components.masker.min_keep=99)"},
                  "a masker built from a --set");
  base["components"]["masker"]["min_keep"] = 4;
  base["data"]["source"] = "nonsense";
  ijepa::test::write_text(dir / "base.json", base.dump());
  EXPECT_FALSE(fs::exists(out));
  // A sweep: a trial's error names the trial and the base file that set the key; an axis value is the sweep file's;
  // an error of the experiment itself names the base file.
  ijepa::test::write_text(dir / "sweep.json", R"({"base": ["base.json"], "sweep": {"axes": {"train.lr": [0.1, -1]}}})");
  const std::string sweep_file = (dir / "sweep.json").string();
  const std::string sweep = "sweep '" + sweep_file + "' --out '" + out.string() + "' ";
  expect_one_line(run_bad(sweep), 1,
                  {sweep_file + ": trial 'lr0.1_s3': " + base_file + ": data.source: unknown source"}, "sweep");
  base["data"]["source"] = "synthetic";
  base["train"]["epochs"] = -2;
  ijepa::test::write_text(dir / "base.json", base.dump());
  expect_one_line(run_bad(sweep + "--dry-run"), 1,
                  {sweep_file + ": trial 'lr0.1_s3': " + base_file + ": train.epochs: must be > 0"},
                  "a trial's error set in the base file");
  base["train"]["epochs"] = 1;
  ijepa::test::write_text(dir / "base.json", base.dump());
  expect_one_line(run_bad(sweep + "--dry-run"), 1,
                  {sweep_file + ": trial 'lr-1_s3': train.lr: must be >= 0"}, "an axis value");
  base["train"]["epochs"] = "abc";  // the experiment itself does not resolve: no trial to name
  ijepa::test::write_text(dir / "base.json", base.dump());
  expect_one_line(run_bad(sweep + "--dry-run"), 1,
                  {"ijepa sweep: error: " + base_file + ": key 'train.epochs' of the experiment: expected number"},
                  "the sweep's experiment");
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

// ijepa bench train builds its experiment from flags: a component's error names the flag, not a key the user never
// wrote ("--pred-dim 7" was reported as the predictor's embed_dim only).
TEST(CliBadInput, ABenchErrorNamesTheFlagThatCausedIt) {
  const std::string bench = "bench train --model vit_tiny --patch 4 --image-size 32 --batch 2 --steps 1 --warmup 0 ";
  expect_one_line(run_bad(bench + "--pred-dim 7"), 1, {"key 'embed_dim': must be > 0", "got 7 (from --pred-dim 7)"},
                  "pred-dim");
  expect_one_line(run_bad(bench + "--pred-depth 4000000000"), 1,
                  {"the predictor would hold", "(from --pred-depth 4000000000)"}, "pred-depth");
  const ijepa::test::CliOut grid =
      run_bad("bench train --model vit_tiny --patch 4 --image-size 33554432 --batch 2 --steps 1");
  expect_one_line(grid, 1, {"patch grid", "(from --patch 4 --image-size 33554432)"}, "patch grid");
}

// ijepa masks takes the masker's keys as --set KEY=V: an error names that --set and the key as written, not
// '--masker.scal'; an unknown masker is --masker's.
TEST(CliBadInput, AMasksErrorNamesTheSetAsWritten) {
  const std::string masks = "masks --image-size 32 --patch-size 4 --batch 2 --steps 1 --seed 0 ";
  expect_one_line(run_bad(masks + "--masker multiblock --set scal=0.3"), 1,
                  {"unknown key 'scal' for masker/multiblock", "(from --set scal=0.3)"}, "unknown key");
  expect_one_line(run_bad(masks + "--masker multiblock --set min_keep=1.5"), 1,
                  {"key 'min_keep' of masker/multiblock", "(from --set min_keep=1.5)"}, "wrong type");
  expect_one_line(run_bad(masks + "--masker multiblock --set type=random"), 2,
                  {"--set type=random: the masker's type is --masker's"}, "type by --set");
  expect_one_line(run_bad(masks + "--masker nosuch"), 1,
                  {"--masker: no masker plugin 'nosuch' is loaded", "--plugin-dir"}, "unknown masker");
}

// What two exercises found: a --set key with a trailing dot ("train.lr.") was taken as "train.lr" (mislabelled sweep
// results), --set components=null threw a JSON library error, a --set schema_version was recorded unchecked, an
// error the --set caused was prefixed with the experiment file, a "base" of /dev/zero was read until memory ran out.
TEST(CliBadInput, SetKeysAreCheckedAsStrictlyAsTheFile) {
  const fs::path dir = ijepa::test::temp_dir("cli_bad_set");
  const fs::path exp = dir / "e.json", out = dir / "run";
  ijepa::test::write_text(exp, ijepa::test::tiny_experiment().dump());
  const std::string train = "train '" + exp.string() + "' --out '" + out.string() + "' ";
  expect_one_line(run_bad(train + "--set train.lr.=1"), 1, {"empty segment in path 'train.lr.'"}, "trailing dot");
  expect_one_line(run_bad(train + "--set components=null"), 1,
                  {"error: components: expected an object (from --set components=null)"}, "components=null");
  expect_one_line(run_bad(train + "--set schema_version=2"), 1,
                  {"schema_version: 2 is not supported (this workbench reads 1) (from --set schema_version=2)"},
                  "schema_version");
  // The error names the --set, not the file that never had the key; an unknown key lists what is there.
  const BadOut typed = run_bad(train + "--set components.loss.beta=true");
  expect_one_line(typed, 1, {"error: key 'components.loss.beta'", "(from --set components.loss.beta=true)"}, "type");
  EXPECT_EQ(typed.text.find(exp.string()), std::string::npos) << typed.text;
  expect_one_line(run_bad(train + "--set components.masker.min_keeep=3"), 1,
                  {"key 'components.masker.min_keeep' does not exist in the config (did you mean "
                   "'components.masker.min_keep'? a key it does not have yet: '+components.masker.min_keeep=...')"},
                  "typo");
  ijepa::test::write_text(dir / "z.json", R"({"base": ["/dev/zero"]})");
  expect_one_line(run_bad("train '" + (dir / "z.json").string() + "' --out '" + out.string() + "'"), 1,
                  {"/dev/zero: not a regular file"}, "a device as a base file");
  EXPECT_FALSE(fs::exists(out));
}

// --resume names what is wrong with the folder: missing altogether (a typo in --out) or not a run.
TEST(CliBadInput, ResumeSaysWhetherTheFolderIsMissingOrNotARun) {
  const fs::path dir = ijepa::test::temp_dir("cli_bad_resume");
  const fs::path exp = dir / "e.json";
  ijepa::test::write_text(exp, ijepa::test::tiny_experiment().dump());
  const std::string train = "train '" + exp.string() + "' --resume --out ";
  expect_one_line(run_bad(train + "'" + (dir / "typo").string() + "'"), 1,
                  {"--resume: " + (dir / "typo").string() + " does not exist (nothing to resume"}, "missing");
  EXPECT_FALSE(fs::exists(dir / "typo"));
  fs::create_directories(dir / "notes");
  expect_one_line(run_bad(train + "'" + (dir / "notes").string() + "'"), 1,
                  {"--resume: " + (dir / "notes").string() + " is not a run directory (no config.resolved.json)"},
                  "not a run");
  EXPECT_TRUE(fs::is_empty(dir / "notes"));
}

// train.ipe_scale below 1 ended the schedules before the run: past T the EMA momentum rose above 1 (0.2 gave a
// fitted 1.0135: the target moving away from the encoder), trained without a word.
TEST(CliBadInput, AnIpeScaleBelowOneIsRefused) {
  const fs::path dir = ijepa::test::temp_dir("cli_bad_ipe_scale");
  const fs::path exp = dir / "e.json";
  ijepa::test::write_text(exp, ijepa::test::tiny_experiment().dump());
  expect_one_line(run_bad("train '" + exp.string() + "' --out '" + (dir / "run").string() +
                          "' --set train.ipe_scale=0.5"),
                  1, {"train.ipe_scale: must be >= 1, got 0.5", "EMA momentum", "(from --set train.ipe_scale=0.5)"},
                  "ipe_scale");
  EXPECT_FALSE(fs::exists(dir / "run"));
}

// Valid but probably unintended schedules train as asked, with a warning each at the start (they were silent).
TEST(CliBadInput, SchedulesThatWorkAgainstThemselvesAreWarnedOf) {
  const fs::path dir = ijepa::test::temp_dir("cli_warn_schedules");
  const fs::path exp = dir / "e.json";
  ijepa::test::write_text(exp, ijepa::test::tiny_experiment().dump());
  const BadOut o = run_bad("train '" + exp.string() + "' --out '" + (dir / "run").string() +
                           "' --quiet --set train.max_steps=1 --set train.warmup_epochs=3 --set train.start_lr=0.01 "
                           "--set train.final_lr=0.01 --set 'train.ema=[1.0,0.99]'");
  EXPECT_EQ(o.rc, 0) << o.text;
  for (const char* w : {"train.warmup_epochs (3) is longer than train.epochs (2)", "train.start_lr (0.01) is above",
                        "train.final_lr (0.01) is above", "train.ema [1.0,0.99] falls"}) {
    EXPECT_NE(o.text.find(w), std::string::npos) << w << "\n" << o.text;
  }
  const BadOut quiet = run_bad("train '" + exp.string() + "' --out '" + (dir / "run2").string() +
                               "' --quiet --set train.max_steps=1");
  EXPECT_EQ(quiet.rc, 0) << quiet.text;
  EXPECT_EQ(quiet.text.find("warning"), std::string::npos) << quiet.text;
}
