#pragma once
// Experiment files: layering (base files, the file, "overrides", --set), host defaults, plugin defaults.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

constexpr int kExperimentSchemaVersion = 1;

// Defaults of the host-owned sections (every key documented by experiment_doc()).
nlohmann::json experiment_defaults();
nlohmann::json train_defaults();
nlohmann::json train_doc();

// Where each key of a layered experiment was set: dotted key (a leaf: a value, a list) -> the file that set it last,
// "FILE" or "FILE (overrides.KEY)". Keys left at the host defaults have no entry.
using KeyOrigins = std::map<std::string, std::string>;

// load_layered(path) -> merge of host defaults, base files (recursively, relative to their file, in order;
// RFC 7396 merge-patch) and the file itself, then its "overrides" object (dotted keys). Errors name the file.
// `origins`, when given, receives the file of every key set (for error_origin).
nlohmann::json load_layered(const std::filesystem::path& path, KeyOrigins* origins = nullptr);

// key_origin(what, origins) -> the file (or "overrides" entry) that set the keys `what` names (as "a.b.c" or, in a
// plugin's words, "a.b: … 'c'"), a base file included; keys set in several files give each file with its key
// ("base.json (components.encoder.patch_size), x.json (data.image_size)"); "" when no recorded key is named.
std::string key_origin(const std::string& what, const KeyOrigins& origins);
// error_origin(what, origins, file) -> the place a config error should name in front of `what`: key_origin, else
// `file` (also when the error came from a --set: " (from --set ").
std::string error_origin(const std::string& what, const KeyOrigins& origins, const std::string& file);
// located_error(what, origins, file) -> the one-line error: "<error_origin>: what", or `what` alone where it already
// names the --set that caused it (the file did not).
std::string located_error(const std::string& what, const KeyOrigins& origins, const std::string& file);
// forget_origins(origins, key): `key` (a --set or a sweep axis, '+' allowed) is written after the files: it and the
// keys above and below it are no file's any more; "components.X.type" forgets the whole component.
void forget_origins(KeyOrigins& origins, const std::string& key);
// component_type_key("components.masker.type") -> "masker" (one of the single components), else "".
std::string component_type_key(const std::string& dotted);

// names_key(what, key) -> where `what` names the dotted key `key` as a whole (or a key below it: "key.sub", "key[0]")
// — after the start, a space, a quote or "(" and before ':', a quote, ' ', '.', '[', ')' or the end; npos if not.
std::size_t names_key(const std::string& what, const std::string& key);

// resolve_experiment(layered, sets, registry) -> the fully resolved config: --set assignments applied (a key
// must exist in the layered config or the plugin's defaults, unless prefixed with '+'), every plugin default
// materialised, unknown keys and wrong types rejected (ConfigError / ConfigFileError with the key and plugin).
nlohmann::json resolve_experiment(const nlohmann::json& layered, const std::vector<std::string>& sets,
                                  const Registry& registry, const std::string& origin);

// fill_added_defaults(resolved, registry): a train key or a component key (of the component's plugin, same type)
// that is missing from an older resolved config gets its current default — it did not exist when that config was
// written. Resume compares the filled old config with the new one, so such keys differ only if set otherwise.
void fill_added_defaults(nlohmann::json& resolved, const Registry& registry);

// Stable hash of a resolved config (sha256 of its canonical dump).
std::string config_hash(const nlohmann::json& resolved);

// The BuildContext of an experiment's components (image size, patch size, grid, seed), as the trainer builds them:
// ConfigError when data.image_size, the encoder's img_size and patch_size disagree.
sdk::BuildContext experiment_context(const nlohmann::json& resolved);

// with_set_origin(what, sets) -> `what` + " (from --set KEY=VALUE)" when the error names the key of a --set (the one
// named first; of --sets of one key, the last; for a --set of a list element, the list; for a --set of
// components.X.type, any error of components.X), else `what` unchanged: a value error says whether it came from the
// file or the command line.
std::string with_set_origin(const std::string& what, const std::vector<std::string>& sets);

// locate_config_error(what, sets, origins) -> `what` with the place that set the key it names first: " (from --set
// …)" when that is a --set's key, "FILE: " in front when a file's (key_origin), else `what` unchanged. For errors
// raised after resolution (a component that rejects its config when built).
std::string locate_config_error(const std::string& what, const std::vector<std::string>& sets,
                                const KeyOrigins& origins);

// First differing dotted key between two configs ("" if equal).
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix = "");

// Keys that do not alter the maths of the steps a run takes: where it stops, logging, loader threads, caches, the
// description. A resumed run (a sweep's interrupted trial too) may differ from its recorded config there.
bool is_incidental_key(const std::string& dotted_key);
// first_difference(recorded, now) once the incidental keys of `recorded` are set to those of `now` ("" when the two
// configs train the same steps). For a finished run (a sweep's completed trial) the stopping point counts:
// another train.max_steps asks for other results.
std::string first_material_difference(nlohmann::json recorded, const nlohmann::json& now, bool finished = false);
// The incidental keys whose values differ: {"data.workers": {"was": 2, "now": 4}, ...} (a key one side lacks is null
// there); {} when none does.
nlohmann::json incidental_changes(const nlohmann::json& recorded, const nlohmann::json& now);

}  // namespace ijepa::host
