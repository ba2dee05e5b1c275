#include "ijepa/host/config/sweep.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"

namespace ijepa::host {

namespace {

std::string seg_suffix(const std::vector<std::string>& segs, std::size_t n) {
  std::string out;
  for (std::size_t i = segs.size() - n; i < segs.size(); ++i) out += (out.empty() ? "" : ".") + segs[i];
  return out;
}

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> segs;
  std::string cur;
  for (char c : key) {
    if (c == '.') {
      segs.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  segs.push_back(cur);
  return segs;
}

}  // namespace

void check_sweep_report_block(const nlohmann::json& r, const std::string& where) {
  if (!r.is_object()) throw ConfigFileError(where + ": expected an object {\"reference\", \"best_by\", \"orderings\"}");
  for (auto it = r.begin(); it != r.end(); ++it) {
    if (it.key() == "reference" || it.key() == "best_by") {
      if (!it->is_string() || it->get<std::string>().empty()) {
        throw ConfigFileError(where + "." + it.key() + ": expected a non-empty string, got " + it->dump());
      }
    } else if (it.key() == "orderings") {
      if (!it->is_array()) throw ConfigFileError(where + ".orderings: expected a list of \"A > B\" claims");
      for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& c = (*it)[i];
        if (!c.is_string() || !split_ordering_claim(c.get<std::string>())) {
          throw ConfigFileError(where + ".orderings[" + std::to_string(i) + "]: expected one claim \"A > B\", got " +
                                c.dump());
        }
      }
    } else {
      throw ConfigFileError(where + ": unknown key '" + it.key() + "' (expected reference, best_by, orderings)");
    }
  }
}

std::optional<std::pair<std::string, std::string>> split_ordering_claim(const std::string& claim) {
  // The one '>' of the claim; where a group's label holds a '>' of its own, the one " > " with a space either side.
  auto only = [&claim](const std::string& sep) -> std::optional<std::size_t> {
    const auto at = claim.find(sep);
    if (at == std::string::npos || claim.find(sep, at + 1) != std::string::npos) return std::nullopt;
    return at;
  };
  std::optional<std::size_t> gt = only(">");
  std::size_t width = 1;
  if (!gt) {
    gt = only(" > ");
    width = 3;
  }
  if (!gt) return std::nullopt;
  auto trim = [](const std::string& s) {
    const auto b = s.find_first_not_of(' ');
    return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(' ') - b + 1);
  };
  std::string a = trim(claim.substr(0, *gt)), b = trim(claim.substr(*gt + width));
  if (a.empty() || b.empty()) return std::nullopt;
  return std::make_pair(std::move(a), std::move(b));
}

SweepSpec parse_sweep(const nlohmann::json& sweep, const std::string& origin) {
  const std::string where = origin + ": sweep";
  if (!sweep.is_object()) throw ConfigFileError(where + ": expected an object, got " + sweep.dump());
  for (auto it = sweep.begin(); it != sweep.end(); ++it) {
    static const std::set<std::string> known{"mode", "axes", "seeds", "name_template", "report"};
    if (known.count(it.key()) == 0) {
      throw ConfigFileError(where + ": unknown key '" + it.key() +
                            "' (expected mode, axes, seeds, name_template, report)");
    }
  }
  if (sweep.contains("report")) check_sweep_report_block(sweep["report"], where + ".report");
  SweepSpec spec;
  if (sweep.contains("mode")) {
    const auto& m = sweep["mode"];
    if (!m.is_string() || (m != "grid" && m != "list")) {
      throw ConfigFileError(where + ".mode: unknown sweep mode " + m.dump() + " (expected \"grid\" or \"list\")");
    }
    spec.mode = m.get<std::string>();
  }
  if (sweep.contains("axes")) {
    const auto& axes = sweep["axes"];
    if (!axes.is_object()) throw ConfigFileError(where + ".axes: expected an object {\"dotted.key\": [values...]}");
    for (auto it = axes.begin(); it != axes.end(); ++it) {
      SweepAxis a;
      a.key = it.key();
      if (!a.key.empty() && a.key[0] == '+') {
        a.create = true;
        a.key = a.key.substr(1);
      }
      if (a.key.empty()) throw ConfigFileError(where + ".axes: an axis has an empty key");
      try {
        (void)dotted_to_pointer(a.key);
      } catch (const std::exception& e) {
        throw ConfigFileError(where + ".axes." + it.key() + ": " + e.what());
      }
      if (!it->is_array()) {
        throw ConfigFileError(where + ".axes." + it.key() + ": expected a list of values, got " + it->dump());
      }
      if (it->empty()) throw ConfigFileError(where + ".axes." + it.key() + ": no values (an empty grid)");
      for (const auto& v : *it) a.values.push_back(v);
      for (const auto& other : spec.axes) {
        if (other.key == a.key) throw ConfigFileError(where + ".axes: '" + a.key + "' is given twice (with and without '+')");
      }
      spec.axes.push_back(std::move(a));
    }
  }
  bool seed_axis = false;
  for (const auto& a : spec.axes) {
    if (a.key == "seed") {
      seed_axis = true;
      for (const auto& v : a.values) {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
          throw ConfigFileError(where + ".axes.seed: seeds must be non-negative integers, got " + v.dump());
        }
      }
    }
  }
  if (sweep.contains("seeds")) {
    const auto& s = sweep["seeds"];
    if (!s.is_array()) throw ConfigFileError(where + ".seeds: expected a list of integers, got " + s.dump());
    if (s.empty()) throw ConfigFileError(where + ".seeds: no seeds (an empty grid; leave it out to use \"seed\")");
    if (seed_axis) throw ConfigFileError(where + ": 'seed' is both an axis and sweep.seeds (use one of them)");
    std::set<std::int64_t> seen;
    for (const auto& v : s) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
        throw ConfigFileError(where + ".seeds: seeds must be non-negative integers, got " + v.dump());
      }
      if (!seen.insert(v.get<std::int64_t>()).second) {
        throw ConfigFileError(where + ".seeds: seed " + v.dump() + " is listed twice");
      }
      spec.seeds.push_back(v.get<std::int64_t>());
    }
  }
  if (spec.axes.empty() && spec.seeds.empty()) {
    throw ConfigFileError(where + ": no axes and no seeds (an empty grid: nothing to run)");
  }
  if (spec.mode == "list") {
    for (const auto& a : spec.axes) {
      if (a.values.size() != spec.axes.front().values.size()) {
        throw ConfigFileError(where + ": mode \"list\" zips the axes, but '" + spec.axes.front().key + "' has " +
                              std::to_string(spec.axes.front().values.size()) + " values and '" + a.key + "' has " +
                              std::to_string(a.values.size()));
      }
    }
  }
  if (sweep.contains("name_template")) {
    const auto& t = sweep["name_template"];
    if (!t.is_string() || t.get<std::string>().empty()) {
      throw ConfigFileError(where + ".name_template: expected a non-empty string, got " + t.dump());
    }
    spec.name_template = t.get<std::string>();
  }
  return spec;
}

std::string render_sweep_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    if (v.empty()) return "empty";
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : "-") + render_sweep_value(x);
    return out;
  }
  if (v.is_object()) {
    if (v.empty()) return "empty";
    std::string out;
    for (auto it = v.begin(); it != v.end(); ++it) out += (out.empty() ? "" : "-") + it.key() + render_sweep_value(*it);
    return out;
  }
  return v.dump();  // numbers (shortest round-trip form), true, false, null
}

std::string sanitize_trial_name(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-' || c == '+' || c == '=';
    out += ok ? c : '_';
  }
  if (!out.empty() && out[0] == '.') out[0] = '_';
  return out;
}

std::vector<std::string> axis_short_names(const std::vector<SweepAxis>& axes) {
  std::vector<std::vector<std::string>> segs;
  for (const auto& a : axes) segs.push_back(split_dots(a.key));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    std::size_t n = 1;
    for (; n < segs[i].size(); ++n) {
      bool clash = false;
      for (std::size_t j = 0; j < axes.size(); ++j) {
        if (j != i && segs[j].size() >= n && seg_suffix(segs[j], n) == seg_suffix(segs[i], n)) clash = true;
      }
      if (!clash) break;
    }
    out.push_back(seg_suffix(segs[i], n));
  }
  return out;
}

std::map<std::string, std::string> axis_value_labels(const std::vector<nlohmann::json>& values) {
  auto text = [](const nlohmann::json& v) {
    return v.is_null() ? std::string() : v.is_string() ? v.get<std::string>() : v.dump();
  };
  std::vector<nlohmann::json> distinct;
  std::set<std::string> seen;
  for (const auto& v : values) {
    if (seen.insert(v.dump()).second) distinct.push_back(v);
  }
  std::map<std::string, std::string> out;
  for (const auto& v : distinct) out[v.dump()] = text(v);
  const bool objects = std::all_of(distinct.begin(), distinct.end(), [](const nlohmann::json& v) { return v.is_object(); });
  if (distinct.size() < 2 || !objects) return out;
  auto field = [](const nlohmann::json& v, const std::string& k) { return v.contains(k) ? v[k] : nlohmann::json(); };
  std::set<std::string> keys;
  for (const auto& v : distinct) {
    for (auto it = v.begin(); it != v.end(); ++it) keys.insert(it.key());
  }
  std::vector<std::string> differing;  // two distinct objects differ in at least one of these, so they tell all apart
  for (const auto& k : keys) {
    std::set<std::string> vals;
    for (const auto& v : distinct) vals.insert(v.contains(k) ? v[k].dump() : "");
    if (vals.size() > 1) differing.push_back(k);
  }
  std::set<std::string> types;
  for (const auto& v : distinct) types.insert(field(v, "type").dump());
  if (types.size() == distinct.size()) {
    for (const auto& v : distinct) out[v.dump()] = text(field(v, "type"));
    return out;
  }
  if (const auto t = std::find(differing.begin(), differing.end(), "type"); t != differing.end()) {
    std::rotate(differing.begin(), t, t + 1);  // the type first
  }
  for (const auto& v : distinct) {
    std::string label;
    for (const auto& k : differing) label += (label.empty() ? "" : " ") + k + "=" + (v.contains(k) ? text(v[k]) : "-");
    out[v.dump()] = label;
  }
  return out;
}

std::string default_name_template(const std::vector<SweepAxis>& axes) {
  const std::vector<std::string> shorts = axis_short_names(axes);
  std::string t;
  bool seed_axis = false;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (axes[i].key == "seed") seed_axis = true;
    t += (t.empty() ? "" : "_") + shorts[i] + "{" + axes[i].key + "}";
  }
  if (!seed_axis) t += std::string(t.empty() ? "" : "_") + "s{seed}";
  return t;
}

std::vector<SweepTrial> expand_sweep(const SweepSpec& spec, const nlohmann::json& experiment,
                                     const std::string& origin) {
  const std::string where = origin + ": sweep";
  for (const auto& a : spec.axes) {
    if (a.create) continue;
    if (!experiment.contains(dotted_to_pointer(a.key))) {
      throw ConfigFileError(where + ".axes: key '" + a.key +
                            "' does not exist in the resolved experiment (check the spelling with `ijepa describe "
                            "KIND/TYPE`, or write '+" + a.key + "' to create it)");
    }
  }
  // Points: grid = odometer with the last axis fastest; list = the i-th value of every axis.
  std::vector<std::vector<std::size_t>> points;
  if (spec.axes.empty()) {
    points.emplace_back();
  } else if (spec.mode == "list") {
    for (std::size_t i = 0; i < spec.axes.front().values.size(); ++i) points.emplace_back(spec.axes.size(), i);
  } else {
    std::vector<std::size_t> idx(spec.axes.size(), 0);
    for (bool carry = false; !carry;) {
      points.push_back(idx);
      carry = true;
      for (std::size_t k = spec.axes.size(); k > 0 && carry;) {
        --k;
        if (++idx[k] < spec.axes[k].values.size()) {
          carry = false;
        } else {
          idx[k] = 0;
        }
      }
    }
  }
  std::vector<std::int64_t> seeds = spec.seeds;
  bool seed_axis = false;
  for (const auto& a : spec.axes) seed_axis = seed_axis || a.key == "seed";
  if (seeds.empty() && !seed_axis) {
    const auto& s = experiment.contains("seed") ? experiment["seed"] : nlohmann::json();
    if (!s.is_number_integer() || s.get<std::int64_t>() < 0) {
      throw ConfigFileError(origin + ": seed: expected a non-negative integer, got " + s.dump());
    }
    seeds.push_back(s.get<std::int64_t>());
  }
  if (seed_axis) seeds = {-1};  // placeholder: the axis sets it

  const std::string tmpl = spec.name_template.empty() ? default_name_template(spec.axes) : spec.name_template;
  std::vector<SweepTrial> trials;
  const std::size_t total = points.size() * seeds.size();
  const std::size_t width = std::to_string(total == 0 ? 0 : total - 1).size();
  for (const auto& p : points) {
    for (std::int64_t seed : seeds) {
      SweepTrial t;
      t.index = trials.size();
      for (std::size_t k = 0; k < spec.axes.size(); ++k) t.values[spec.axes[k].key] = spec.axes[k].values[p[k]];
      t.seed = seed_axis ? t.values["seed"].get<std::int64_t>() : seed;
      // Name: substitute placeholders.
      std::string name;
      nlohmann::json point;  // the experiment with this trial's values, made when a placeholder needs it
      for (std::size_t i = 0; i < tmpl.size(); ++i) {
        const char c = tmpl[i];
        if (c == '}') throw ConfigFileError(where + ".name_template: unbalanced '}' in \"" + tmpl + "\"");
        if (c != '{') {
          name += c;
          continue;
        }
        const auto close = tmpl.find('}', i + 1);
        if (close == std::string::npos) {
          throw ConfigFileError(where + ".name_template: unbalanced '{' in \"" + tmpl + "\"");
        }
        std::string ph = tmpl.substr(i + 1, close - i - 1);
        if (!ph.empty() && ph[0] == '+') ph = ph.substr(1);
        i = close;
        if (ph == "seed") {
          name += std::to_string(t.seed);
        } else if (ph == "index") {
          std::string n = std::to_string(t.index);
          name += std::string(width - std::min(width, n.size()), '0') + n;
        } else if (t.values.contains(ph)) {
          name += render_sweep_value(t.values[ph]);
        } else {
          // Any other key of the trial's experiment, e.g. {components.masker.type} inside a "components.masker" axis.
          nlohmann::json::json_pointer ptr;
          try {
            ptr = dotted_to_pointer(ph);
          } catch (const std::exception&) {
            throw ConfigFileError(where + ".name_template: bad placeholder '{" + ph + "}'");
          }
          if (point.is_null()) {
            point = experiment;
            for (auto it = t.values.begin(); it != t.values.end(); ++it) {
              set_path(point, it.key(), *it, true, where + ".axes." + it.key());
            }
          }
          if (!point.contains(ptr)) {
            throw ConfigFileError(where + ".name_template: unknown placeholder '{" + ph +
                                  "}' (expected an axis key, {seed}, {index} or a key of the experiment)");
          }
          name += render_sweep_value(point[ptr]);
        }
      }
      t.name = sanitize_trial_name(name);
      if (t.name.empty()) throw ConfigFileError(where + ".name_template: \"" + tmpl + "\" gives an empty trial name");
      if (t.name.find(".tmp-") != std::string::npos) {  // the workbench's names for folders being built
        throw ConfigFileError(where + ".name_template: trial " + std::to_string(t.index) + " gets the name '" + t.name +
                              "', and names with '.tmp-' are the workbench's for folders being built");
      }
      if (t.name.size() > 200) {
        throw ConfigFileError(where + ".name_template: trial " + std::to_string(t.index) + " gets a name of " +
                              std::to_string(t.name.size()) + " characters (at most 200): " + t.name.substr(0, 40) +
                              "...");
      }
      trials.push_back(std::move(t));
    }
  }
  // Names must be unique, also once the files of trials/ are derived from them (<name>/, <name>.json, <name>.log).
  std::map<std::string, std::size_t> used;
  for (const auto& t : trials) {
    for (const char* suffix : {"", ".json", ".log", ".log.1", ".proc.json"}) {
      const std::string f = t.name + suffix;
      auto [it, fresh] = used.emplace(f, t.index);
      if (!fresh) {
        const SweepTrial& other = trials[it->second];
        throw ConfigFileError(where + ".name_template: \"" + tmpl + "\" gives trials " + std::to_string(other.index) +
                              " and " + std::to_string(t.index) + " the same name '" + other.name +
                              (other.name == t.name ? "'" : "' / '" + t.name + "' (their files clash)") +
                              "; add a placeholder that tells them apart");
      }
    }
  }
  return trials;
}

nlohmann::json apply_sweep_point(const nlohmann::json& layered, const SweepTrial& trial) {
  nlohmann::json cfg = layered;
  cfg.erase("sweep");
  // A changed component type first: the component's earlier keys belonged to the other plugin.
  for (auto it = trial.values.begin(); it != trial.values.end(); ++it) {
    if (const std::string c = component_type_key(it.key());
        !c.empty() && cfg.contains("components") && cfg["components"].is_object()) {
      auto& comp = cfg["components"][c];
      if (!comp.is_object() || !comp.contains("type") || comp["type"] != *it) comp = {{"type", *it}};
    }
  }
  for (auto it = trial.values.begin(); it != trial.values.end(); ++it) {
    set_path(cfg, it.key(), *it, true, "sweep.axes." + it.key());
  }
  cfg["seed"] = trial.seed;
  return cfg;
}

}  // namespace ijepa::host
