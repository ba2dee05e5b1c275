#pragma once
// Sweeps: the "sweep" object of an experiment file expanded into trials. Pure functions: JSON in, JSON out, no files.
//
//   "sweep": {"mode": "grid" | "list", "axes": {"dotted.key": [values...], ...}, "seeds": [0, 1, 2],
//             "name_template": "pms{components.masker.pred_mask_scale}_s{seed}"}
//
// Order (stable trial numbers): axes in key order as stored (nlohmann::json keeps object keys sorted, so this is
// byte-wise lexicographic order of the keys as written, '+' included), the last axis varying fastest; seeds are the
// innermost loop. grid = Cartesian product of the axes; list = the axes zipped (all the same length). Each point is
// then repeated for every seed ("seeds", default: the experiment's "seed").
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ijepa::host {

struct SweepAxis {
  std::string key;                    // dotted key, without the leading '+'
  bool create = false;                // written as "+key": the key may be new (same rule as --set)
  std::vector<nlohmann::json> values;  // at least one
};

struct SweepSpec {
  std::string mode = "grid";         // grid | list
  std::vector<SweepAxis> axes;        // in key order as stored
  std::vector<std::int64_t> seeds;    // empty: the experiment's seed (or the "seed" axis)
  std::string name_template;          // empty: default_name_template(axes)
};

struct SweepTrial {
  std::size_t index = 0;                              // position in the expansion order
  std::string name;                                   // filesystem-safe, unique in the sweep
  nlohmann::json values = nlohmann::json::object();   // {dotted key: value} of the axes (no '+')
  std::int64_t seed = 0;                              // the trial's "seed"
};

// parse_sweep(sweep, origin) -> the spec; ConfigFileError (one line, naming origin and the key) on a malformed
// object: not an object, unknown keys, unknown mode, axes not lists, empty axes, empty or non-integer seeds, an
// empty grid (no axes and no seeds), list axes of unequal length, "seed" both an axis and in "seeds".
SweepSpec parse_sweep(const nlohmann::json& sweep, const std::string& origin);

// check_sweep_report_block(report, where): the sweep's "report" block, {"reference": GROUP, "best_by": METRIC,
// "orderings": ["A > B", ...]}: its keys, their types and the shape of each claim; ConfigFileError naming `where`
// and the key. Whether the groups exist is checked once the trials are planned (run/sweep_report's
// check_sweep_report).
void check_sweep_report_block(const nlohmann::json& report, const std::string& where);

// split_ordering_claim("A > B") -> {"A", "B"} (sides trimmed of spaces): split at the claim's one '>' or, where a
// label holds a '>' of its own ("lr>1e-3 > lr<1e-3"), at its one " > " with a space either side; nullopt otherwise,
// or when a side is empty. The one reading of a claim, for the sweep file's "orderings" and `ijepa report --order`.
std::optional<std::pair<std::string, std::string>> split_ordering_claim(const std::string& claim);

// expand_sweep(spec, experiment, origin) -> every trial, in order. `experiment` is the resolved experiment without
// "sweep" (plugin defaults included): each axis key must exist in it unless written with '+'; placeholders of the
// name template that are not axes or {seed}/{index} are looked up in it with the trial's values set (so
// {components.masker.type} works with an axis "components.masker" of whole objects). Errors: a missing key, an
// unknown or unbalanced placeholder, an empty or duplicate trial name (also names that would share a file in trials/).
std::vector<SweepTrial> expand_sweep(const SweepSpec& spec, const nlohmann::json& experiment, const std::string& origin);

// apply_sweep_point(layered, trial) -> the layered experiment (load_layered, "sweep" removed) with the trial's axis
// values and seed set. Setting components.<masker|encoder|predictor|loss>.type to another plugin first drops that
// component's other keys (as a layer changing the type does). Resolve the result with resolve_experiment.
nlohmann::json apply_sweep_point(const nlohmann::json& layered, const SweepTrial& trial);

// render_sweep_value(v) -> compact text for names: numbers as JSON, strings as is, [0.15, 0.2] -> "0.15-0.2",
// {"lo": 1, "hi": 2} -> "hi2-lo1", [] -> "empty". Not yet filesystem-safe (see sanitize_trial_name).
std::string render_sweep_value(const nlohmann::json& v);

// Replaces every character outside [A-Za-z0-9._+=-] with '_' and a leading '.' with '_'.
std::string sanitize_trial_name(const std::string& name);

// The default template: "<short>{<key>}" for each axis joined by '_', then "_s{seed}" unless "seed" is an axis
// ("s{seed}" without axes). <short> is the shortest dotted suffix of the key that no other axis ends with.
std::string default_name_template(const std::vector<SweepAxis>& axes);
std::vector<std::string> axis_short_names(const std::vector<SweepAxis>& axes);

// How an axis's values read in tables and group labels (`ijepa sweep`'s trial table, `ijepa report`'s summary.md):
// when they are objects (a whole component, as Table 6's maskers), by what tells them apart -- the "type" alone when
// that does ("rasterized"), else the keys whose values differ, "k=v" joined by spaces, the type first
// ("type=multiblock pred_mask_scale=[0.2,0.3]"); otherwise strings as they are, null as "", the rest as compact
// JSON. Keyed by each value's compact JSON (dump()).
std::map<std::string, std::string> axis_value_labels(const std::vector<nlohmann::json>& values);

}  // namespace ijepa::host
