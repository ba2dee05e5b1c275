#include "ijepa/host/config/experiment.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/config/evaluator_spec.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/io/sha256.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

nlohmann::json train_defaults() {
  return {{"epochs", 10},         {"max_steps", 0},       {"batch_size", 64},         {"lr", 1e-3},
          {"start_lr", 2e-4},     {"final_lr", 1e-6},     {"warmup_epochs", 1.0},     {"weight_decay", 0.04},
          {"final_weight_decay", 0.4}, {"ema", {0.996, 1.0}}, {"ipe_scale", 1.0},     {"device", "cpu"},
          {"bf16", true},         {"cpu_bf16", false},    {"threads", 0},         {"log_every", 10},          {"checkpoint_every", 0},
          {"keep_epoch_checkpoints", 0}, {"health", true}, {"tensorboard", true},
          {"sdpa", "fused"}, {"accum_steps", 1}, {"clip_grad", 0.0}, {"init_from", ""}};
}

nlohmann::json train_doc() {
  return {{"epochs", "passes over the data; sets the schedules' length T = ipe_scale * epochs * ipe"},
          {"max_steps", "stop after this many steps without changing the schedules (0 = run all epochs)"},
          {"batch_size", "images per step (per rank)"},
          {"lr", "peak learning rate after warmup (official ref_lr 1e-3)"},
          {"start_lr", "learning rate at the start of warmup (official 2e-4)"},
          {"final_lr", "learning rate at the end of the cosine (official 1e-6)"},
          {"warmup_epochs", "linear warmup length in epochs (may be fractional; official 40)"},
          {"weight_decay", "initial weight decay of the decayed groups (official 0.04)"},
          {"final_weight_decay", "final weight decay, cosine-shaped (official 0.4)"},
          {"ema", "target-encoder momentum [start, end], linear over training (official [0.996, 1.0])"},
          {"ipe_scale", "schedule stretch factor (official 1.0)"},
          {"device", "cpu, cuda or cuda:N"},
          {"bf16", "bf16 autocast on CUDA (the official use_bfloat16; the CPU runs fp32 unless cpu_bf16)"},
          {"cpu_bf16", "bf16 autocast on the CPU too (opt-in deviation: the official code autocasts on CUDA only; "
                       "pays on CPUs with native bf16 matmul such as AVX512-BF16 or AMX)"},
          {"threads", "intra-op CPU threads (0 = all cores; on --resume, the count the run started with); the count "
                      "changes the sums' rounding: fix it for bit-exact reproducibility across machines"},
          {"log_every", "steps between metrics.jsonl records and progress lines"},
          {"checkpoint_every", "steps between checkpoints (0 = at the end of every epoch)"},
          {"keep_epoch_checkpoints", "also keep checkpoints/epoch_NNNN.safetensors every N epochs (0 = never)"},
          {"sdpa", "CUDA attention backends: fused (flash > memory-efficient > math, cuDNN attention off: it plans per "
                   "sequence length, which multi-block masks change every batch) or torch (torch's own preference)"},
          {"accum_steps", "micro-batches of batch_size per optimiser step (gradient accumulation; the schedules and "
                          "steps count optimiser steps, the data and masks advance per micro-batch)"},
          {"clip_grad", "clip the global gradient norm to this before each optimiser step (0 = off, as officially)"},
          {"init_from", "start a new run from these weights: a checkpoint (.safetensors: a run's, or an official one "
                        "converted by tools/convert_checkpoint.py) or a run directory; the architecture must match; "
                        "the optimiser and schedules start at step 0 (\"\" = random init, as officially)"},
          {"health", "run-health diagnostics at log steps (health.* in metrics.jsonl: effective rank, feature std, "
                     "positional share, prediction cosine, gradient norms, EMA distance; warnings on collapse)"},
          {"tensorboard", "also write every metrics.jsonl and eval.jsonl value as TensorBoard scalars (an event file "
                          "in the run directory, flushed at each log step: tensorboard --logdir RUNS_DIR)"}};
}

nlohmann::json experiment_defaults() {
  return {{"schema_version", kExperimentSchemaVersion},
          {"name", "experiment"},
          {"description", ""},
          {"seed", 0},
          {"data", data_defaults()},
          {"components",
           {{"masker", {{"type", "multiblock"}}},
            {"encoder", {{"type", "vit"}}},
            {"predictor", {{"type", "vit_predictor"}}},
            {"loss", {{"type", "smooth_l1"}}},
            {"evaluators", nlohmann::json::array()}}},
          {"train", train_defaults()}};
}

namespace {

// `key` and every key below it.
void erase_below(KeyOrigins& o, const std::string& key) {
  o.erase(key);
  const std::string below = key + ".";
  for (auto it = o.lower_bound(below); it != o.end() && it->first.compare(0, below.size(), below) == 0;) {
    it = o.erase(it);
  }
}

// The leaves a merge-patch of `v` at `key` sets (a null deletes), as set by `origin`.
void record_patch(KeyOrigins& o, const nlohmann::json& v, const std::string& key, const std::string& origin) {
  if (v.is_object()) {
    if (!key.empty()) o.erase(key);  // a value there becomes an object; the keys below it stay
    for (auto it = v.begin(); it != v.end(); ++it) {
      record_patch(o, it.value(), key.empty() ? it.key() : key + "." + it.key(), origin);
    }
    return;
  }
  erase_below(o, key);
  if (!v.is_null()) o[key] = origin;
}

// A write at `key` by `where` (an "overrides" entry): a write below a recorded leaf (one element of a list) makes the
// writer the origin of the leaf, which is what an error names.
void record_write(KeyOrigins& o, const std::string& key, const std::string& where) {
  for (std::size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1)) {
    if (const auto it = o.find(key.substr(0, dot)); it != o.end()) {
      it->second = where;
      return;
    }
  }
  erase_below(o, key);
  o[key] = where;
}

void apply_overrides_object(nlohmann::json& cfg, const nlohmann::json& ov, const std::string& origin,
                            KeyOrigins* origins) {
  if (ov.is_null()) return;
  if (!ov.is_object()) throw ConfigFileError(origin + ": \"overrides\" must be an object of dotted keys");
  for (auto it = ov.begin(); it != ov.end(); ++it) {
    std::string key = it.key();
    const bool create = !key.empty() && key[0] == '+';
    if (create) key = key.substr(1);
    const std::string where = origin + " (overrides." + it.key() + ")";
    set_path(cfg, key, it.value(), create, where);
    if (origins != nullptr) record_write(*origins, key, where);
  }
}

void layer_file(nlohmann::json& acc, const fs::path& path, std::vector<fs::path>& stack, KeyOrigins* origins) {
  const fs::path canon = fs::weakly_canonical(path);
  for (const auto& p : stack) {
    if (p == canon) throw ConfigFileError(path.string() + ": base files form a cycle");
  }
  stack.push_back(canon);
  nlohmann::json doc = load_json_file(path);
  if (!doc.is_object()) throw ConfigFileError(path.string() + ": an experiment file must be a JSON object");
  if (doc.contains("schema_version")) {
    const auto& v = doc["schema_version"];
    if (!v.is_number_integer() || v.get<int>() != kExperimentSchemaVersion) {
      throw ConfigFileError(path.string() + ": schema_version " + v.dump() + " is not supported (this workbench reads " +
                            std::to_string(kExperimentSchemaVersion) + ")");
    }
  }
  if (doc.contains("base")) {
    const auto& b = doc["base"];
    if (!b.is_array()) throw ConfigFileError(path.string() + ": \"base\" must be a list of file paths");
    for (const auto& item : b) {
      if (!item.is_string()) throw ConfigFileError(path.string() + ": \"base\" entries must be strings");
      fs::path bp = item.get<std::string>();
      if (bp.is_relative()) bp = path.parent_path() / bp;
      layer_file(acc, bp, stack, origins);
    }
  }
  nlohmann::json ov = doc.contains("overrides") ? doc["overrides"] : nlohmann::json();
  doc.erase("base");
  doc.erase("overrides");
  // "components.*" objects are replaced when their type changes (another plugin's keys would not apply).
  if (doc.contains("components") && doc["components"].is_object() && acc.contains("components")) {
    for (auto it = doc["components"].begin(); it != doc["components"].end(); ++it) {
      auto& prev = acc["components"][it.key()];
      if (it->is_object() && prev.is_object() && it->contains("type") && prev.contains("type") &&
          (*it)["type"] != prev["type"]) {
        prev = nlohmann::json::object();
        if (origins != nullptr) erase_below(*origins, "components." + it.key());
      }
    }
  }
  acc.merge_patch(doc);
  if (origins != nullptr) record_patch(*origins, doc, "", path.string());
  apply_overrides_object(acc, ov, path.string(), origins);
  stack.pop_back();
}

}  // namespace

nlohmann::json load_layered(const fs::path& path, KeyOrigins* origins) {
  nlohmann::json acc = experiment_defaults();
  std::vector<fs::path> stack;
  KeyOrigins recorded;
  layer_file(acc, path, stack, &recorded);
  if (origins != nullptr) *origins = std::move(recorded);
  return acc;
}

std::size_t names_key(const std::string& what, const std::string& key) {
  if (key.empty()) return std::string::npos;
  // A top-level key ("name", "seed") is an English word too: only quoted or followed by ':' is it the key.
  const bool dotted = key.find('.') != std::string::npos;
  const std::string_view before = " '\"(", after = dotted ? ":'\" .[)" : ":'\"";
  for (std::size_t pos = what.find(key); pos != std::string::npos; pos = what.find(key, pos + 1)) {
    const std::size_t end = pos + key.size();
    const bool starts = pos == 0 || before.find(what[pos - 1]) != std::string_view::npos;
    const bool ends = end == what.size() || after.find(what[end]) != std::string_view::npos;
    if (starts && ends) return pos;
  }
  return std::string::npos;
}

std::string component_type_key(const std::string& dotted) {
  static const std::string kPrefix = "components.", kSuffix = ".type";
  if (dotted.size() <= kPrefix.size() + kSuffix.size() || dotted.compare(0, kPrefix.size(), kPrefix) != 0 ||
      dotted.compare(dotted.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return "";
  }
  const std::string c = dotted.substr(kPrefix.size(), dotted.size() - kPrefix.size() - kSuffix.size());
  return c == "masker" || c == "encoder" || c == "predictor" || c == "loss" ? c : "";
}

void forget_origins(KeyOrigins& origins, const std::string& written) {
  std::string key = written;
  if (!key.empty() && key[0] == '+') key = key.substr(1);
  // Another component type replaces the component: none of its keys is a file's any more.
  if (const std::string c = component_type_key(key); !c.empty()) key = "components." + c;
  erase_below(origins, key);
  for (std::size_t dot = key.find('.'); dot != std::string::npos; dot = key.find('.', dot + 1)) {
    origins.erase(key.substr(0, dot));
  }
}

namespace {
// Where `what` names `key`: as the dotted key, or in a plugin's words ("components.masker: … key 'min_keep': …").
std::size_t key_position(const std::string& what, const std::string& key) {
  const std::size_t pos = names_key(what, key);
  const std::size_t dot = key.rfind('.');
  if (pos != std::string::npos || dot == std::string::npos ||
      what.find("'" + key.substr(dot + 1) + "'") == std::string::npos) {
    return pos;
  }
  return names_key(what, key.substr(0, dot));
}
}  // namespace

std::string key_origin(const std::string& what, const KeyOrigins& origins) {
  struct Named {
    std::size_t pos;
    std::string key, origin;
  };
  std::vector<Named> named;
  for (const auto& [key, origin] : origins) {
    if (const std::size_t pos = key_position(what, key); pos != std::string::npos) named.push_back({pos, key, origin});
  }
  // In the order the message names them; of keys named at one place, the longest.
  std::sort(named.begin(), named.end(), [](const Named& a, const Named& b) {
    return a.pos != b.pos ? a.pos < b.pos : a.key.size() > b.key.size();
  });
  std::vector<const Named*> picked;
  for (std::size_t i = 0; i < named.size(); ++i) {
    if (i == 0 || named[i].pos != named[i - 1].pos) picked.push_back(&named[i]);
  }
  bool one_origin = true;
  for (const Named* n : picked) one_origin = one_origin && n->origin == picked.front()->origin;
  if (picked.empty() || one_origin) return picked.empty() ? "" : picked.front()->origin;
  // Keys of several files (data.image_size in one, the patch size in another): each file with its key.
  std::string out;
  for (const Named* n : picked) {
    const bool says_key =
        n->origin.find(" (overrides.") != std::string::npos || n->origin.find(" (sweep axis ") != std::string::npos;
    const std::string part = says_key ? n->origin : n->origin + " (" + n->key + ")";
    if (out.find(part) == std::string::npos) out += (out.empty() ? "" : ", ") + part;
  }
  return out;
}

std::string error_origin(const std::string& what, const KeyOrigins& origins, const std::string& file) {
  if (what.find(" (from --set ") != std::string::npos) return file;
  const std::string found = key_origin(what, origins);
  return found.empty() ? file : found;
}

std::string located_error(const std::string& what, const KeyOrigins& origins, const std::string& file) {
  if (what.find(" (from --set ") != std::string::npos || what.rfind("--set ", 0) == 0) return what;
  return error_origin(what, origins, file) + ": " + what;
}

namespace {

// The single components of an experiment and their registry kinds (the evaluators are a list).
const std::pair<const char*, Kind> kSingleComponents[] = {
    {"masker", Kind::masker}, {"encoder", Kind::encoder}, {"predictor", Kind::predictor}, {"loss", Kind::loss}};

// Materialise plugin defaults of every component; returns the resolved config.
nlohmann::json materialise(const nlohmann::json& cfg, const Registry& registry) {
  nlohmann::json out = cfg;
  if (out.contains("sweep")) throw ConfigError("\"sweep\" needs `ijepa sweep`, not `ijepa train`");
  nlohmann::json top = experiment_defaults();
  top["components"] = nlohmann::json::object();  // plugin keys are checked against each plugin's defaults below
  nlohmann::json shallow = out;
  shallow["components"] = nlohmann::json::object();
  validate_keys(top, shallow, "", "the experiment", true);
  if (const auto v = out.find("schema_version");
      v != out.end() && !(v->is_number_integer() && v->get<std::int64_t>() == kExperimentSchemaVersion)) {
    throw ConfigError("schema_version: " + v->dump() + " is not supported (this workbench reads " +
                      std::to_string(kExperimentSchemaVersion) + ")");
  }
  if (const std::string name = out.value("name", std::string()); name.empty() || name == "." || name == ".." ||
                                                                   name.find('/') != std::string::npos ||
                                                                   name.find('\0') != std::string::npos) {
    throw ConfigError("name: '" + name + "' is not one path component (runs are written to runs/<name>/; no '/', "
                      "not empty, '.' or '..')");
  }
  if (!out["components"].is_object()) throw ConfigError("components: expected an object");
  for (auto it = out["components"].begin(); it != out["components"].end(); ++it) {
    if (!experiment_defaults()["components"].contains(it.key())) {
      throw ConfigError("unknown key 'components." + it.key() +
                        "' (expected masker, encoder, predictor, loss, evaluators)");
    }
  }
  // A null in a layer deletes a key (merge-patch): restore the host defaults of train and data.
  for (const char* section : {"train", "data"}) {
    if (!out[section].is_object()) throw ConfigError(std::string(section) + ": expected an object");
    const nlohmann::json defs = experiment_defaults()[section];
    for (auto it = defs.begin(); it != defs.end(); ++it) {
      if (!out[section].contains(it.key()) || out[section][it.key()].is_null()) out[section][it.key()] = it.value();
    }
  }
  auto& comps = out["components"];
  // The encoder's input size follows data.image_size unless the experiment sets it.
  if (comps["encoder"].is_object() && !comps["encoder"].contains("img_size") && comps["encoder"].contains("type") &&
      comps["encoder"]["type"].is_string()) {
    const EntryInfo* enc = registry.find(Kind::encoder, comps["encoder"]["type"].get<std::string>());
    if (enc != nullptr && enc->defaults.contains("img_size") && out["data"].contains("image_size")) {
      comps["encoder"]["img_size"] = out["data"]["image_size"];
    }
  }
  for (const auto& [key, kind] : kSingleComponents) {
    comps[key] = registry.resolve(kind, comps[key], std::string("components.") + key);
  }
  if (!comps["evaluators"].is_array()) throw ConfigError("components.evaluators: expected a list");
  for (std::size_t i = 0; i < comps["evaluators"].size(); ++i) {
    // Host keys (schedule, features, limits) are the host's; the rest is checked against the plugin's defaults.
    const std::string where = "components.evaluators." + std::to_string(i);
    auto [host_keys, plugin_cfg] = split_evaluator_entry(comps["evaluators"][i], where);
    nlohmann::json entry = registry.resolve(Kind::evaluator, plugin_cfg, where, evaluator_host_keys());
    for (auto it = host_keys.begin(); it != host_keys.end(); ++it) entry[it.key()] = it.value();
    parse_evaluator(entry, where);  // validates the host keys' values
    comps["evaluators"][i] = entry;
  }
  return out;
}

}  // namespace

namespace {
// Where `what` first names the key of the --set `assignment` (npos: nowhere). A --set of one element of a list
// (train.ema.0) is named by an error about the list (train.ema); a --set of a component's type by any error of the
// component (components.masker: …).
std::size_t set_position(const std::string& what, const std::string& assignment) {
  std::string key = assignment.substr(0, assignment.find('='));
  if (!key.empty() && key[0] == '+') key = key.substr(1);
  if (const std::string c = component_type_key(key); !c.empty()) return names_key(what, "components." + c);
  for (std::string k = key; !k.empty();) {
    if (const std::size_t pos = key_position(what, k); pos != std::string::npos) return pos;
    const std::size_t dot = k.rfind('.');
    const bool index = dot != std::string::npos && dot + 1 < k.size() &&
                       k.find_first_not_of("0123456789", dot + 1) == std::string::npos;
    k = index ? k.substr(0, dot) : "";
  }
  return std::string::npos;
}

// The --set whose key `what` names first (of --sets of one key, the last: it is in force); npos when none.
std::size_t first_set(const std::string& what, const std::vector<std::string>& sets, std::string* which) {
  std::size_t first = std::string::npos;
  for (auto s = sets.rbegin(); s != sets.rend(); ++s) {
    const std::size_t pos = set_position(what, *s);
    if (pos != std::string::npos && (first == std::string::npos || pos < first)) {
      first = pos;
      *which = *s;
    }
  }
  return first;
}

// The first position at which `what` names a key of `origins` (npos: none).
std::size_t first_origin(const std::string& what, const KeyOrigins& origins) {
  std::size_t first = std::string::npos;
  for (const auto& entry : origins) first = std::min(first, key_position(what, entry.first));
  return first;
}
}  // namespace

std::string with_set_origin(const std::string& what, const std::vector<std::string>& sets) {
  std::string which;
  return first_set(what, sets, &which) == std::string::npos ? what : what + " (from --set " + which + ")";
}

std::string locate_config_error(const std::string& what, const std::vector<std::string>& sets,
                                const KeyOrigins& origins) {
  std::string which;
  const std::size_t by_set = first_set(what, sets, &which), by_file = first_origin(what, origins);
  if (by_set != std::string::npos && (by_file == std::string::npos || by_set <= by_file)) {
    return what + " (from --set " + which + ")";
  }
  const std::string files = key_origin(what, origins);
  return files.empty() ? what : files + ": " + what;
}

nlohmann::json resolve_experiment(const nlohmann::json& layered, const std::vector<std::string>& sets,
                                  const Registry& registry, const std::string& origin) {
  nlohmann::json cfg = layered;
  if (!sets.empty()) {
    // Materialise first so --set can address any documented default, then re-validate.
    nlohmann::json full = materialise(cfg, registry);
    // A --set of a component's type replaces the component (its keys belonged to the other plugin), as a layer or
    // a sweep axis does; the component's other --set keys apply to the new type.
    std::map<std::string, nlohmann::json> new_types;  // the last --set of each component's type is in force
    for (const auto& s : sets) {
      const std::size_t eq = s.find('=');
      std::string key = s.substr(0, eq);
      if (!key.empty() && key[0] == '+') key = key.substr(1);
      const std::string c = component_type_key(key);
      if (c.empty() || eq == std::string::npos) continue;
      new_types[c] = assignment_value(s.substr(eq + 1));
    }
    bool encoder_replaced = false;
    for (const auto& [c, value] : new_types) {
      if (full["components"][c].value("type", nlohmann::json()) == value) continue;
      encoder_replaced = encoder_replaced || c == "encoder";
      // The new plugin's defaults, so that a --set may address them as it may the file's plugin's.
      nlohmann::json fresh = {{"type", value}};
      for (const auto& [name, kind] : kSingleComponents) {
        const EntryInfo* e = name == c && value.is_string() ? registry.find(kind, value.get<std::string>()) : nullptr;
        if (e != nullptr && e->defaults.is_object()) fresh.update(e->defaults);
      }
      fresh["type"] = value;
      full["components"][c] = fresh;
    }
    bool img_size_set = false;
    for (const auto& s : sets) {
      apply_override(full, s, "--set");
      const std::string key = s.substr(0, s.find('='));
      img_size_set = img_size_set || key == "components.encoder.img_size" || key == "+components.encoder.img_size";
    }
    // The encoder's img_size follows data.image_size unless the experiment or a --set names it: drop the value the
    // first pass derived, so --set data.image_size=64 moves both.
    const auto& enc = cfg.contains("components") ? cfg["components"].value("encoder", nlohmann::json::object())
                                                  : nlohmann::json::object();
    if (!img_size_set && ((enc.is_object() && !enc.contains("img_size")) || encoder_replaced)) {
      // (a --set may have made components or the encoder something else: materialise says what, below)
      if (const auto c = full.find("components"); c != full.end() && c->is_object()) {
        if (const auto e = c->find("encoder"); e != c->end() && e->is_object()) e->erase("img_size");
      }
    }
    try {
      return materialise(full, registry);
    } catch (const ConfigError& e) {
      // The file alone resolved (above), so a --set made the config invalid: name the one whose key the error names.
      throw ConfigError(with_set_origin(e.what(), sets));
    }
  }
  (void)origin;
  return materialise(cfg, registry);
}

void fill_added_defaults(nlohmann::json& resolved, const Registry& registry) {
  auto fill = [](nlohmann::json& into, const nlohmann::json& defaults) {
    if (!into.is_object() || !defaults.is_object()) return;
    for (auto it = defaults.begin(); it != defaults.end(); ++it) {
      if (!into.contains(it.key())) into[it.key()] = it.value();
    }
  };
  if (const auto t = resolved.find("train"); t != resolved.end()) fill(*t, train_defaults());
  const auto comps = resolved.find("components");
  if (comps == resolved.end() || !comps->is_object()) return;
  auto fill_component = [&](nlohmann::json& c, Kind kind) {
    if (!c.is_object() || !c.contains("type") || !c["type"].is_string()) return;
    if (const EntryInfo* e = registry.find(kind, c["type"].get<std::string>())) fill(c, e->defaults);
  };
  for (const auto& [key, kind] : kSingleComponents) {
    if (const auto c = comps->find(key); c != comps->end()) fill_component(*c, kind);
  }
  if (const auto ev = comps->find("evaluators"); ev != comps->end() && ev->is_array()) {
    for (auto& c : *ev) fill_component(c, Kind::evaluator);
  }
}

std::string config_hash(const nlohmann::json& resolved) { return sha256_hex(resolved.dump()); }

std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix) {
  if (a.is_number() && b.is_number()) return a == b ? "" : (prefix.empty() ? "(root)" : prefix);
  if (a.type() != b.type()) return prefix.empty() ? "(root)" : prefix;
  if (a.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
      const std::string p = prefix.empty() ? k : prefix + "." + k;
      if (!a.contains(k) || !b.contains(k)) return p;
      std::string d = first_difference(a[k], b[k], p);
      if (!d.empty()) return d;
    }
    return "";
  }
  return a == b ? "" : (prefix.empty() ? "(root)" : prefix);
}

namespace {
const char* const kIncidentalKeys[] = {"train.max_steps", "train.log_every", "data.workers", "train.tensorboard",
                                       "data.cache_dir", "description"};
}  // namespace

bool is_incidental_key(const std::string& dotted_key) {
  for (const char* k : kIncidentalKeys) {
    if (dotted_key == k) return true;
  }
  return false;
}

std::string first_material_difference(nlohmann::json recorded, const nlohmann::json& now, bool finished) {
  for (const std::string k : kIncidentalKeys) {
    if (finished && k == "train.max_steps") continue;
    const auto ptr = dotted_to_pointer(k);
    if (now.contains(ptr)) {
      recorded[ptr] = now.at(ptr);
    } else if (recorded.contains(ptr)) {
      recorded[ptr.parent_pointer()].erase(ptr.back());
    }
  }
  return first_difference(recorded, now);
}

nlohmann::json incidental_changes(const nlohmann::json& recorded, const nlohmann::json& now) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string k : kIncidentalKeys) {
    const auto ptr = dotted_to_pointer(k);
    const nlohmann::json was = recorded.contains(ptr) ? recorded.at(ptr) : nlohmann::json();
    const nlohmann::json is = now.contains(ptr) ? now.at(ptr) : nlohmann::json();
    if (was != is) out[k] = {{"was", was}, {"now", is}};
  }
  return out;
}

sdk::BuildContext experiment_context(const nlohmann::json& resolved) {
  const auto& data = resolved.at("data");
  const auto& enc_cfg = resolved.at("components").at("encoder");
  const auto image_size = data.at("image_size").get<std::int64_t>();
  if (image_size <= 0) throw ConfigError("data.image_size: must be > 0, got " + std::to_string(image_size));
  if (enc_cfg.contains("img_size") && enc_cfg["img_size"].get<std::int64_t>() != image_size) {
    throw ConfigError("components.encoder.img_size (" + enc_cfg["img_size"].dump() + ") != data.image_size (" +
                      std::to_string(image_size) + ")");
  }
  if (!enc_cfg.contains("patch_size") || !enc_cfg["patch_size"].is_number_integer()) {
    throw ConfigError("components.encoder: the encoder's config has no integer patch_size (the host needs it for the "
                      "patch grid of every component)");
  }
  const std::int64_t patch = enc_cfg["patch_size"].get<std::int64_t>();
  if (patch <= 0 || image_size % patch != 0) {
    throw ConfigError("components.encoder.patch_size (" + std::to_string(patch) + ") does not divide data.image_size (" +
                      std::to_string(image_size) + ")");
  }
  try {
    return build_context(image_size, patch, resolved.at("seed").get<std::uint64_t>());
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("data.image_size / components.encoder.patch_size: ") + e.what());
  }
}

}  // namespace ijepa::host
