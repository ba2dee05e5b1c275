#include <gtest/gtest.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "test_util.hpp"

using namespace ijepa;
using namespace ijepa::host;

TEST(Experiment, LayeringBaseFilesOverridesAndSets) {
  auto dir = test::temp_dir("exp");
  test::write_text(dir / "base.json", R"({"name": "base", "train": {"lr": 0.5, "epochs": 3}, "seed": 1})");
  test::write_text(dir / "exp.json", R"({"schema_version": 1, "base": ["base.json"], "name": "child",
      "train": {"epochs": 4}, "overrides": {"train.batch_size": 16}})");
  nlohmann::json layered = load_layered(dir / "exp.json");
  EXPECT_EQ(layered["name"], "child");
  EXPECT_EQ(layered["train"]["lr"], 0.5);
  EXPECT_EQ(layered["train"]["epochs"], 4);
  EXPECT_EQ(layered["train"]["batch_size"], 16);
  EXPECT_EQ(layered["seed"], 1);
  const auto& reg = test::builtin_plugins().registry();
  nlohmann::json r = resolve_experiment(layered, {"train.lr=0.25", "components.masker.min_keep=4"}, reg, "x");
  EXPECT_EQ(r["train"]["lr"], 0.25);
  EXPECT_EQ(r["components"]["masker"]["min_keep"], 4);  // a plugin default addressed by --set
  EXPECT_TRUE(r["components"]["masker"].contains("pred_mask_scale")) << "plugin defaults are materialised";
  EXPECT_EQ(r["components"]["encoder"]["img_size"], 32) << "encoder img_size follows data.image_size";
  EXPECT_EQ(config_hash(r), config_hash(resolve_experiment(layered, {"train.lr=0.25", "components.masker.min_keep=4"},
                                                           reg, "x")));
  std::filesystem::remove_all(dir);
}

// An older resolved config lacks keys added to the defaults since: they get their current defaults (train and
// component keys alike), and what it does hold is kept.
TEST(Experiment, FillAddedDefaultsRestoresMissingKeysOnly) {
  const auto& reg = test::builtin_plugins().registry();
  const nlohmann::json r = resolve_experiment(test::layered(test::tiny_experiment()), {}, reg, "x");
  nlohmann::json old = r;
  old["train"].erase("cpu_bf16");
  old["components"]["encoder"].erase("attention");
  old["components"]["predictor"]["attention"] = "sdpa";
  fill_added_defaults(old, reg);
  EXPECT_EQ(old["train"]["cpu_bf16"], false);
  EXPECT_EQ(old["components"]["encoder"]["attention"], "auto");
  EXPECT_EQ(old["components"]["predictor"]["attention"], "sdpa");
  EXPECT_EQ(first_difference(old, r), "components.predictor.attention");
}

TEST(Experiment, BadInputIsOneLineNamingTheKey) {
  auto dir = test::temp_dir("expbad");
  const auto& reg = test::builtin_plugins().registry();
  test::write_text(dir / "bad.json", "{\n  \"name\": \"x\",\n  \"train\": {\"lr\": 1e-3,, }\n}\n");
  try {
    load_layered(dir / "bad.json");
    FAIL();
  } catch (const ConfigFileError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json:3:"), std::string::npos) << e.what();
  }
  auto expect_error = [&](const nlohmann::json& patch, std::vector<std::string> sets, const std::string& needle) {
    nlohmann::json cfg = test::tiny_experiment();
    cfg.merge_patch(patch);
    test::write_text(dir / "e.json", cfg.dump());
    try {
      resolve_experiment(load_layered(dir / "e.json"), sets, reg, "e.json");
      ADD_FAILURE() << "no error for " << patch.dump();
    } catch (const std::exception& e) {
      const std::string w = e.what();
      EXPECT_NE(w.find(needle), std::string::npos) << w;
      EXPECT_EQ(w.find('\n'), std::string::npos) << "one line: " << w;
    }
  };
  expect_error({{"train", {{"lrr", 1}}}}, {}, "train.lrr");
  expect_error({{"components", {{"masker", {{"min_keeep", 3}}}}}}, {}, "min_keeep");
  expect_error({{"components", {{"masker", {{"min_keep", "four"}}}}}}, {}, "min_keep");
  expect_error({{"components", {{"encoder", {{"type", "vitt"}}}}}}, {}, "vitt");
  expect_error({{"train", {{"epochs", "many"}}}}, {}, "train.epochs");
  expect_error({{"nonsense", 1}}, {}, "nonsense");
  expect_error(nlohmann::json::object(), {"train.no_such_key=3"}, "train.no_such_key");
  expect_error({{"schema_version", 7}}, {}, "schema_version");
  std::filesystem::remove_all(dir);
}

TEST(Experiment, FirstDifferenceNamesDottedKey) {
  nlohmann::json a = {{"train", {{"lr", 1}, {"epochs", 2}}}};
  nlohmann::json b = a;
  EXPECT_EQ(first_difference(a, b), "");
  b["train"]["epochs"] = 3;
  EXPECT_EQ(first_difference(a, b), "train.epochs");
}

TEST(Experiment, FirstMaterialDifferenceIgnoresIncidentalKeys) {
  const nlohmann::json a = {{"description", "first words"},
                            {"train", {{"lr", 1}, {"log_every", 10}}},
                            {"data", {{"workers", 2}}}};
  nlohmann::json b = a;
  b["description"] = "other words";
  b["train"]["log_every"] = 50;
  b["data"]["workers"] = 8;
  EXPECT_EQ(first_difference(a, b), "data.workers");
  EXPECT_EQ(first_material_difference(a, b), "");
  b.erase("description");  // recorded with a description, now without: still the same steps
  EXPECT_EQ(first_material_difference(a, b), "");
  EXPECT_EQ(first_material_difference(b, a), "");
  nlohmann::json stopped = a;  // a finished run's stopping point counts; a resumed one's does not
  stopped["train"]["max_steps"] = 5;
  EXPECT_EQ(first_material_difference(a, stopped), "");
  EXPECT_EQ(first_material_difference(a, stopped, /*finished=*/true), "train.max_steps");
  b["train"]["lr"] = 2;
  EXPECT_EQ(first_material_difference(a, b), "train.lr");
  EXPECT_TRUE(is_incidental_key("description"));
  EXPECT_FALSE(is_incidental_key("name"));
  EXPECT_FALSE(is_incidental_key("train.lr"));
}

// Hostile-input issue, item 8: the experiment name becomes runs/<name>/, so it must be one path component.
TEST(Experiment, ANameIsOnePathComponent) {
  const auto& reg = test::builtin_plugins().registry();
  for (const char* bad : {"../../../../escape", "a/b", "..", ".", ""}) {
    nlohmann::json exp = test::tiny_experiment();
    exp["name"] = bad;
    try {
      (void)resolve_experiment(test::layered(exp), {}, reg, "x");
      FAIL() << "name '" << bad << "' was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("name: '", 0), 0u) << e.what();
    }
  }
}

// Item 15: --set data.image_size moves the encoder's img_size with it, as the docs say, unless it is set too.
TEST(Experiment, SetImageSizeMovesTheEncodersInputSize) {
  const auto& reg = test::builtin_plugins().registry();
  nlohmann::json r = resolve_experiment(test::layered(test::tiny_experiment()), {"data.image_size=64"}, reg, "x");
  EXPECT_EQ(r["data"]["image_size"], 64);
  EXPECT_EQ(r["components"]["encoder"]["img_size"], 64);
  EXPECT_THROW((void)experiment_context(resolve_experiment(test::layered(test::tiny_experiment()),
                                                           {"data.image_size=64", "components.encoder.img_size=32"},
                                                           reg, "x")),
               ConfigError)
      << "an explicit contradiction is still an error";
}

// Where a key was set: the file that set it last (a base file, the file, its "overrides"), so that a value error names
// the file to edit — an error in a base file used to name the including file.
TEST(Experiment, KeyOriginsNameTheFileThatSetEachKey) {
  auto dir = test::temp_dir("exporigin");
  test::write_text(dir / "base.json", R"({"name": "b", "train": {"lr": 0.5, "epochs": 3, "ema": [0.9, 1.0]},
      "components": {"masker": {"type": "multiblock", "min_keep": 2}, "encoder": {"type": "vit", "depth": 2}}})");
  test::write_text(dir / "exp.json", R"({"base": ["base.json"], "train": {"epochs": 4, "ema": null},
      "components": {"masker": {"type": "random"}}, "overrides": {"+train.lr": 0.1, "data.image_size": 64}})");
  KeyOrigins o;
  (void)load_layered(dir / "exp.json", &o);
  const std::string base = (dir / "base.json").string(), exp = (dir / "exp.json").string();
  EXPECT_EQ(o.at("name"), base);
  EXPECT_EQ(o.at("train.epochs"), exp);
  EXPECT_EQ(o.at("train.lr"), exp + " (overrides.+train.lr)");
  EXPECT_EQ(o.at("data.image_size"), exp + " (overrides.data.image_size)");
  EXPECT_EQ(o.count("train.ema"), 0u) << "a null deletes the key (the default comes back)";
  EXPECT_EQ(o.count("components.masker.min_keep"), 0u) << "another masker type drops the base's masker keys";
  EXPECT_EQ(o.at("components.masker.type"), exp);
  EXPECT_EQ(o.at("components.encoder.depth"), base);

  // The first key an error names decides; a --set's error and an error naming no recorded key name the file given.
  EXPECT_EQ(error_origin("key 'components.encoder.depth' of the encoder: expected integer", o, "top"), base);
  EXPECT_EQ(error_origin("components.encoder.depth: must be > 0", o, "top"), base);
  EXPECT_EQ(error_origin("components.encoder: encoder/vit rejected its config: key 'depth': must be > 0", o, "top"),
            base);
  EXPECT_EQ(error_origin("components.encoder: encoder/vit rejected its config: key 'patch_size': bad", o, "top"),
            "top") << "a key no file set";
  EXPECT_EQ(error_origin("train.lr: must be >= 0", o, "top"), exp + " (overrides.+train.lr)");
  EXPECT_EQ(error_origin("data.image_size / components.encoder.patch_size: too many", o, "top"),
            exp + " (overrides.data.image_size)");
  EXPECT_EQ(error_origin("train.lr: must be >= 0 (from --set train.lr=-1)", o, "top"), "top");
  EXPECT_EQ(error_origin("train.batch_size: must be > 0", o, "top"), "top");
  EXPECT_EQ(error_origin("the name of the run", o, "top"), "top") << "a top-level key as a word is not the key";
  EXPECT_EQ(error_origin("name: 'a/b' is not one path component", o, "top"), base);

  // Keys of several files: each file with its key.
  EXPECT_EQ(error_origin("components.encoder.depth (2) does not go with data.image_size (64)", o, "top"),
            base + " (components.encoder.depth), " + exp + " (overrides.data.image_size)");
  // A --set or a sweep axis writes after the files: its key, the keys above and below it, are no file's; a type
  // forgets the whole component.
  KeyOrigins f = o;
  forget_origins(f, "+train.lr");
  forget_origins(f, "components.encoder.type");
  EXPECT_EQ(f.count("train.lr"), 0u);
  EXPECT_EQ(f.count("components.encoder.depth"), 0u);
  EXPECT_EQ(f.at("components.masker.type"), exp);
  f["train.ema"] = base;
  forget_origins(f, "train.ema.0");
  EXPECT_EQ(f.count("train.ema"), 0u) << "one element of a list is the list";
  EXPECT_EQ(component_type_key("components.loss.type"), "loss");
  EXPECT_EQ(component_type_key("components.evaluators.type"), "");
  EXPECT_EQ(component_type_key("train.type"), "");
  // An "overrides" entry of one list element makes the file the list's origin.
  test::write_text(dir / "elem.json", R"({"base": ["base.json"], "overrides": {"train.ema.0": 2}})");
  (void)load_layered(dir / "elem.json", &o);
  EXPECT_EQ(o.at("train.ema"), (dir / "elem.json").string() + " (overrides.train.ema.0)");
  EXPECT_EQ(o.count("train.ema.0"), 0u);
  // with_set_origin: a --set of one element is named by an error about its list.
  EXPECT_EQ(with_set_origin("train.ema: each momentum must be within [0, 1]", {"train.ema.0=2"}),
            "train.ema: each momentum must be within [0, 1] (from --set train.ema.0=2)");

  // An error raised after resolution names whichever comes first in it: a --set's key or a file's.
  EXPECT_EQ(locate_config_error("components.encoder.depth: bad [data.image_size 64]", {"data.image_size=64"}, o),
            base + ": components.encoder.depth: bad [data.image_size 64]");
  EXPECT_EQ(locate_config_error("data.image_size 64: bad [components.encoder.depth 2]", {"data.image_size=64"}, o),
            "data.image_size 64: bad [components.encoder.depth 2] (from --set data.image_size=64)");
  EXPECT_EQ(locate_config_error("components.masker: masker/random rejected its config: key 'ratio': bad",
                                {"components.masker.type=random"}, o),
            "components.masker: masker/random rejected its config: key 'ratio': bad "
            "(from --set components.masker.type=random)") << "a --set type is any error of its component";
  EXPECT_EQ(locate_config_error("nothing named", {"train.lr=1"}, o), "nothing named");

  // names_key: whole keys only (not a key that merely begins with it), keys below it count.
  EXPECT_EQ(names_key("train.lr: bad", "train.lr"), 0u);
  EXPECT_EQ(names_key("key 'train.lr' of", "train.lr"), 5u);
  EXPECT_EQ(names_key("train.lr_min: bad", "train.lr"), std::string::npos);
  EXPECT_EQ(names_key("xtrain.lr: bad", "train.lr"), std::string::npos);
  EXPECT_EQ(names_key("components.evaluators.0.k: bad", "components.evaluators"), 0u);
  EXPECT_EQ(names_key("at seed 3", "seed"), std::string::npos);
  EXPECT_EQ(names_key("'seed' must be", "seed"), 1u);
  std::filesystem::remove_all(dir);
}

// A --set of a component's type replaces the component, as a layer or a sweep axis does: the old plugin's keys
// (filled in from its defaults) were refused as unknown keys of the new one ("unknown key 'components.loss.beta'").
TEST(Experiment, SetOfAComponentTypeReplacesTheComponent) {
  const auto& reg = test::builtin_plugins().registry();
  const nlohmann::json layered = test::layered(test::tiny_experiment());
  const nlohmann::json r = resolve_experiment(layered, {"components.masker.type=random"}, reg, "x");
  EXPECT_EQ(r["components"]["masker"]["type"], "random");
  EXPECT_FALSE(r["components"]["masker"].contains("allow_overlap")) << r["components"]["masker"].dump();
  // The component's other --set keys apply to the new type, whichever order they come in.
  const nlohmann::json r2 = resolve_experiment(
      layered, {"components.masker.ratio=0.5", "components.masker.type=random"}, reg, "x");
  EXPECT_EQ(r2["components"]["masker"]["ratio"], 0.5);
  // The same type keeps the component's keys; of two --sets of a type, the last is in force.
  const nlohmann::json r3 = resolve_experiment(layered, {"components.masker.type=multiblock"}, reg, "x");
  EXPECT_EQ(r3["components"]["masker"]["min_keep"], layered["components"]["masker"]["min_keep"]);
  const nlohmann::json r4 = resolve_experiment(
      layered, {"components.masker.type=random", "components.masker.type=multiblock"}, reg, "x");
  EXPECT_EQ(r4["components"]["masker"]["min_keep"], layered["components"]["masker"]["min_keep"]);
}
