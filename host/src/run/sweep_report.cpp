#include "ijepa/host/run/sweep_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/config/sweep.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/run/sweep_dir.hpp"
#include "ijepa/host/util/errors.hpp"
#include "ijepa/host/util/stats.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

// The JSON objects of a .jsonl file. A last line without its newline is one being written right now and is skipped;
// a finished line that is not a JSON object is skipped too, its 1-based number added to *bad_lines.
std::vector<nlohmann::json> read_jsonl_lenient(const fs::path& p, std::vector<std::size_t>* bad_lines = nullptr) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    const bool finished = !in.eof();
    if (line.empty()) continue;
    bool ok = false;
    try {
      nlohmann::json j = nlohmann::json::parse(line);
      ok = j.is_object();
      if (ok) out.push_back(std::move(j));
    } catch (const std::exception&) {
    }
    if (!ok && finished && bad_lines != nullptr) bad_lines->push_back(number);
  }
  return out;
}

nlohmann::json number_or_null(const nlohmann::json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_number()) return obj[key];
  return nullptr;
}

// eval.jsonl -> {"<evaluator>.<metric>": value, "<evaluator>.random_init.<metric>": value} from the last record of
// each evaluator entry. Two entries of one evaluator type are told apart as "<type>#<entry index>".
// *bad_lines: the numbers of eval.jsonl's finished lines that could not be read (their records are missing, so an
// evaluator's metrics may come from an earlier record).
nlohmann::json eval_metrics(const fs::path& run_dir, nlohmann::json* test_n, std::vector<std::size_t>* bad_lines) {
  std::map<std::string, nlohmann::json> last;  // where -> record
  for (auto& r : read_jsonl_lenient(run_dir / "eval.jsonl", bad_lines)) {
    if (!r.contains("evaluator") || !r["evaluator"].is_string()) continue;
    const std::string where = r.contains("where") && r["where"].is_string() ? r["where"].get<std::string>()
                                                                             : r["evaluator"].get<std::string>();
    last[where] = std::move(r);
  }
  std::map<std::string, int> per_type;
  for (const auto& [where, r] : last) ++per_type[r["evaluator"].get<std::string>()];
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [where, r] : last) {
    std::string prefix = r["evaluator"].get<std::string>();
    if (per_type[prefix] > 1) {
      const auto dot = where.find_last_of('.');
      prefix += "#" + (dot == std::string::npos ? where : where.substr(dot + 1));
    }
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (it->is_number() && !eval_bookkeeping_key(it.key())) m[prefix + "." + it.key()] = *it;
    }
    // (the linear probe writes its sizes as floating-point numbers)
    if (test_n != nullptr && r.contains("test_n") && r["test_n"].is_number() && r["test_n"].get<double>() >= 1) {
      (*test_n)[prefix] = std::llround(r["test_n"].get<double>());
    }
    if (r.contains("random_init") && r["random_init"].is_object()) {
      for (auto it = r["random_init"].begin(); it != r["random_init"].end(); ++it) {
        if (it->is_number() && !eval_bookkeeping_key(it.key())) m[prefix + ".random_init." + it.key()] = *it;
      }
    }
  }
  return m;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const std::size_t n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

std::string fmt_num(double x) {
  if (!std::isfinite(x)) return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  char buf[64];
  if (std::fabs(x) >= 1000.0) {
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  } else {
    std::snprintf(buf, sizeof(buf), "%.4g", x);
  }
  return buf;
}

std::string md_cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

// A value as a table cell: strings as they are, null as "", everything else as compact JSON.
std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// The Markdown text of each value of one axis over the records (config/sweep: axis_value_labels); the CSVs keep
// the values whole.
std::map<std::string, std::string> axis_display(const std::vector<nlohmann::json>& records, const std::string& key) {
  std::vector<nlohmann::json> values;
  for (const auto& r : records) values.push_back(r["values"].contains(key) ? r["values"][key] : nlohmann::json());
  return axis_value_labels(values);
}

std::string join_row(const std::vector<std::string>& cells, bool csv) {
  std::string out = csv ? "" : "|";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (csv) {
      out += (i ? "," : "") + csv_cell(cells[i]);
    } else {
      out += " " + md_cell(cells[i]) + " |";
    }
  }
  return out + "\n";
}

std::string md_rule(std::size_t n) {
  std::string out = "|";
  for (std::size_t i = 0; i < n; ++i) out += "---|";
  return out + "\n";
}

nlohmann::json get_number(const nlohmann::json& rec, const std::string& col) {
  if (col.rfind("gain.", 0) == 0) {  // gain.<evaluator>.<metric>: trained minus random init
    const std::string k = col.substr(5);
    const auto dot = k.find('.');
    const std::string ri = k.substr(0, dot) + ".random_init." + k.substr(dot + 1);
    const nlohmann::json& m = rec["metrics"];
    if (!m.contains(k) || !m.contains(ri) || !m[k].is_number() || !m[ri].is_number()) return nlohmann::json();
    return m[k].get<double>() - m[ri].get<double>();
  }
  if (col.rfind("metrics.", 0) == 0) {
    const std::string k = col.substr(8);
    return rec["metrics"].contains(k) && rec["metrics"][k].is_number() ? rec["metrics"][k] : nlohmann::json();
  }
  return rec.contains(col) && rec[col].is_number() ? rec[col] : nlohmann::json();
}

}  // namespace

MeanStd mean_std(const std::vector<double>& xs) {
  const util::MeanCi c = util::mean_ci(xs);
  MeanStd r;
  r.mean = c.mean;
  r.std = c.sd;
  r.n = c.n;
  return r;
}

namespace {

// Trials whose values differ only by the seed.
struct ReportGroup {
  std::string label;  // "lr=0.1, masker=block" (short axis names), "all" without axes
  struct Part {
    std::string key, short_key, value;  // "train.lr", "lr", "0.1" (the value as the label shows it)
  };
  std::vector<Part> parts;  // the label's, one per axis
  std::vector<const nlohmann::json*> members;
  std::vector<double> completed_values(const std::string& col) const {
    std::vector<double> xs;
    for (const auto* m : members) {
      if ((*m)["state"] != "completed") continue;
      const nlohmann::json v = get_number(*m, col);
      if (!v.is_null()) xs.push_back(v.get<double>());
    }
    return xs;
  }
  std::map<std::string, double> by_seed(const std::string& col) const {
    std::map<std::string, double> out;
    for (const auto* m : members) {
      if ((*m)["state"] != "completed") continue;
      const nlohmann::json v = get_number(*m, col);
      if (!v.is_null()) out[value_text((*m)["seed"])] = v.get<double>();
    }
    return out;
  }
};
struct ReportGroups {
  std::vector<std::size_t> value_axes;  // indices of the axes other than the seed
  std::vector<ReportGroup> groups;      // in order of first appearance
};

ReportGroups group_over_seeds(const std::vector<nlohmann::json>& records, const std::vector<std::string>& axis_keys,
                              const std::vector<std::string>& shorts,
                              const std::vector<std::map<std::string, std::string>>& shown) {
  ReportGroups out;
  for (std::size_t i = 0; i < axis_keys.size(); ++i) {
    if (axis_keys[i] != "seed") out.value_axes.push_back(i);
  }
  std::map<std::string, std::size_t> index;
  for (const auto& r : records) {
    nlohmann::json v = r["values"];
    v.erase("seed");
    const std::string key = v.dump();
    if (!index.count(key)) {
      index[key] = out.groups.size();
      ReportGroup g;
      for (std::size_t i : out.value_axes) {
        const nlohmann::json x = v.contains(axis_keys[i]) ? v[axis_keys[i]] : nlohmann::json();
        g.label += (g.label.empty() ? "" : ", ") + shorts[i] + "=" + shown[i].at(x.dump());
        g.parts.push_back({axis_keys[i], shorts[i], shown[i].at(x.dump())});
      }
      if (g.label.empty()) g.label = "all";
      out.groups.push_back(g);
    }
    out.groups[index[key]].members.push_back(&r);
  }
  return out;
}

std::string group_cell(const std::vector<double>& xs) {
  if (xs.empty()) return "—";
  if (xs.size() == 1) return util::round_like(xs[0], std::nan("")) + " (1)";
  const util::MeanCi ci = util::mean_ci(xs);
  // Every seed the same (a tie on a finite test set): said, so that it reads neither as one trial nor as exact.
  if (ci.no_spread()) return util::round_like(ci.mean, std::nan("")) + " (" + std::to_string(xs.size()) + " equal)";
  return util::round_to_uncertainty(ci.mean, ci.half);
}

std::string signed_text(const std::string& t) { return t.empty() || t[0] == '-' ? t : "+" + t; }

// Paired by seed: member(seed) - reference(seed) over the seeds both completed.
util::MeanCi paired(const ReportGroup& g, const ReportGroup& ref, const std::string& col) {
  const auto a = g.by_seed(col), b = ref.by_seed(col);
  std::vector<double> d;
  for (const auto& [seed, x] : a) {
    if (auto it = b.find(seed); it != b.end()) d.push_back(x - it->second);
  }
  return util::mean_ci(d);
}

// What telling a paired difference apart would take (util::pairs_for_power, at most kSeedCap): " (~N seeds would
// ...)", or "".
constexpr std::int64_t kSeedCap = 1000;
std::string seeds_to_decide(const util::MeanCi& d) {
  const std::int64_t need = util::pairs_for_power(d, 0.8, kSeedCap);
  if (need <= 0) return "";
  return need > kSeedCap ? " (more than " + std::to_string(kSeedCap) +
                               " seeds would be needed, were the difference as measured)"
                     : " (~" + std::to_string(need) + " seeds would tell them apart four times in five, were the "
                       "difference as measured)";
}

// A p-value to two significant digits ("0.031", "0.13").
std::string p_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2g", p);
  return buf;
}

// `row_pairs`: the row's pair count; a cell over fewer pairs (a metric some trials lack) says its own.
std::string diff_cell(const util::MeanCi& d, std::size_t row_pairs) {
  if (d.n == 0) return "—";
  if (d.n == 1) return signed_text(util::round_like(d.mean, std::nan(""))) + " (1 pair: undecided)";
  const int verdict = util::paired_verdict(d);
  const std::string side = verdict > 0 ? " above" : verdict < 0 ? " below" : " undecided";
  const std::string own = d.n != row_pairs ? " (" + std::to_string(d.n) + " pairs)" : std::string();
  if (d.no_spread()) {
    const double p = util::no_spread_sign_p(d);
    return signed_text(util::round_like(d.mean, std::nan(""))) + " (no spread over seeds" +
           (std::isnan(p) ? "" : ", sign test p " + p_text(p)) + ":" + side + ")" + own;
  }
  return signed_text(util::round_to_uncertainty(d.mean, d.half)) + side + own;
}

std::string trim(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(0, 1);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Matches a group: its label, one of its trials' names, or a selection on the axes: KEY=VALUE[,KEY=VALUE] (full or
// short names, whole values) or a bare VALUE of any axis. A selection that fits several groups is an error naming
// them, never a silent first pick. `what` says where the spec came from, for the errors ("--reference",
// "e.json: sweep.report.orderings 'a > b'").
const ReportGroup& find_group(const ReportGroups& gs, const std::string& spec, const std::string& what) {
  for (const auto& g : gs.groups) {
    if (g.label == spec) return g;
    for (const auto* m : g.members) {
      if ((*m)["name"] == spec) return g;
    }
  }
  std::string names;
  for (const auto& g : gs.groups) names += (names.empty() ? "" : "; ") + g.label;
  auto unique = [&](const std::vector<const ReportGroup*>& m) -> const ReportGroup* {
    if (m.size() > 1) {
      std::string which;
      for (const auto* g : m) which += (which.empty() ? "" : "; ") + g->label;
      throw ConfigError(what + ": '" + spec + "' matches " + std::to_string(m.size()) + " groups (" + which +
                        "); name one by its label, KEY=VALUE[,KEY=VALUE] or one of its trials");
    }
    return m.empty() ? nullptr : m.front();
  };
  // One selector against one axis of a group, whole values only (a prefix such as "[0.85" selects nothing): a bare
  // VALUE on any axis, or KEY=VALUE with the axis's short or full name ("masker=block", "components.masker=block").
  auto holds = [](const ReportGroup& g, const std::string& sel) {
    for (const auto& part : g.parts) {
      if (part.value == sel) return true;
      const std::size_t eq = sel.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = sel.substr(0, eq);
      if ((key == part.short_key || key == part.key) && sel.substr(eq + 1) == part.value) return true;
    }
    return false;
  };
  // The whole spec as one axis's value, commas and all ("pred_mask_scale=[0.15,0.2]", "[0.15,0.2]", "x, y").
  std::vector<const ReportGroup*> m;
  for (const auto& g : gs.groups) {
    if (holds(g, spec)) m.push_back(&g);
  }
  if (const ReportGroup* g = unique(m)) return *g;
  // Comma-separated parts (commas inside [...] or {...} belong to a value), each KEY=VALUE on that axis or a bare
  // VALUE on any axis; all must hold.
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (std::size_t i = 0; i <= spec.size(); ++i) {
    const char c = i < spec.size() ? spec[i] : ',';
    depth += (c == '[' || c == '{') ? 1 : (c == ']' || c == '}') ? -1 : 0;
    if (c == ',' && depth <= 0) {
      const std::string p = trim(cur);
      if (!p.empty()) parts.push_back(p);
      cur.clear();
    } else {
      cur += c;
    }
  }
  m.clear();
  for (const auto& g : gs.groups) {
    bool all = parts.size() > 1;  // one part is the whole spec, tried above
    for (const auto& p : parts) all = all && holds(g, p);
    if (all) m.push_back(&g);
  }
  if (const ReportGroup* g = unique(m)) return *g;
  throw ConfigError(what + ": no group of trials matches '" + spec + "' (groups: " + names + ")");
}

// --order "A > B" (repeatable): each claim judged on the paired difference A - B, seed by seed, of every top-1
// accuracy the trials have (higher is better): holds where the 95 % interval is above 0, fails where it is below
// (the other way round), undecided where it includes 0 or there are fewer than two pairs.
std::string orderings_section(const ReportGroups& groups, const std::vector<std::string>& orderings,
                              const std::vector<std::string>& num_cols, const std::string& from) {
  std::vector<std::string> cols;
  for (const auto& c : num_cols) {  // top1, and the low-shot probes' top1_1pct, top1_10pct, ...
    const std::string leaf = c.substr(c.find_last_of('.') + 1);
    const bool top1 = leaf == "top1" || (leaf.rfind("top1_", 0) == 0 && is_accuracy(leaf));
    if (c.rfind("metrics.", 0) == 0 && top1 && c.find(".random_init.") == std::string::npos) cols.push_back(c);
  }
  struct Claim {
    const ReportGroup* a;
    const ReportGroup* b;
    std::string text;
  };
  std::vector<Claim> claims;
  for (const auto& o : orderings) {
    const std::string where = from + " '" + o + "'";
    const auto sides = split_ordering_claim(o);
    if (!sides) {
      throw ConfigError(where + ": expected one claim 'A > B' with both sides named (A, B: groups, as for --reference)");
    }
    const ReportGroup& ga = find_group(groups, sides->first, where);
    const ReportGroup& gb = find_group(groups, sides->second, where);
    if (&ga == &gb) throw ConfigError(where + ": both sides are the group '" + ga.label + "'");
    claims.push_back({&ga, &gb, "`" + ga.label + "` > `" + gb.label + "`"});
  }
  std::string md = "\n## Orderings\n\nEach claim \"A > B\" judged on the paired difference A − B of the same seed, over "
                   "the seeds both completed (mean ± 95 % CI, Student t): **holds** — the interval is above 0; "
                   "**fails** — it is below 0 (the other way round); **undecided** — it includes 0, there are fewer "
                   "than two pairs, or every pair differs by the same amount with fewer than six pairs (no spread over "
                   "seeds: an interval of width 0 is no evidence, and accuracies on a finite test set tie by chance; "
                   "such a claim is judged by the exact sign test instead, whose p, 2 × 0.5^n, is below 0.05 from "
                   "six pairs on). Overall: holds (or "
                   "fails) on at least one metric and the other way on none; "
                   "mixed where the metrics disagree. Many claims at 95 % each let some pass by chance, so the last "
                   "column keeps only the differences that survive Holm's correction over every test in this table "
                   "(paired t tests, and sign tests where the pairs have no spread; a claim made twice or both ways is "
                   "one test; family-wise error 5 %). Beside an undecided verdict, \"~N seeds\": about how many "
                   "seeds (pairs) the difference would need for its 95 % interval to exclude 0 four times in five, "
                   "were its true size and spread the ones measured (a planning guess: a mean from few pairs is "
                   "itself uncertain; and Holm's column, which corrects for the other tests, needs more).\n\n";
  if (cols.empty()) return md + "No trial has a top-1 accuracy (an evaluator's `top1`) yet: nothing to judge.\n";
  // Every (claim, metric) difference and its p-value, then Holm over all of them. A claim repeated, or made the other
  // way round, tests the same difference: one test in Holm's family (counted twice, it made the correction stricter).
  std::vector<std::vector<util::MeanCi>> diffs(claims.size());
  std::vector<std::size_t> test_of(claims.size());  // claim -> its pair's first claim
  std::vector<double> pvals;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    test_of[i] = i;
    for (std::size_t k = 0; k < i && test_of[i] == i; ++k) {
      const bool same = (claims[k].a == claims[i].a && claims[k].b == claims[i].b) ||
                        (claims[k].a == claims[i].b && claims[k].b == claims[i].a);
      if (same) test_of[i] = test_of[k];
    }
    for (const auto& c : cols) {
      diffs[i].push_back(paired(*claims[i].a, *claims[i].b, c));
      pvals.push_back(test_of[i] == i ? util::paired_p(diffs[i].back()) : std::nan(""));
    }
  }
  const std::vector<bool> holm = util::holm_reject(pvals, 0.05);
  std::size_t tests = 0;
  for (double p : pvals) tests += std::isnan(p) ? 0 : 1;
  std::vector<std::string> h{"ordering", "pairs"};
  for (const auto& c : cols) {
    h.push_back(c.substr(8) + ": A − B");
    h.push_back("verdict");
  }
  h.push_back("overall");
  h.push_back("overall, Holm");
  md += join_row(h, false) + md_rule(h.size());
  auto overall = [](bool hold, bool fail) {
    return hold && fail ? "mixed" : hold ? "**holds**" : fail ? "**fails**" : "undecided";
  };
  int count[2][4] = {};  // [raw, Holm][hold, fail, mixed, undecided]
  auto tally = [&](int which, bool hold, bool fail) {
    ++count[which][hold && fail ? 2 : hold ? 0 : fail ? 1 : 3];
  };
  for (std::size_t i = 0; i < claims.size(); ++i) {
    std::size_t pairs = 0;  // the most any metric has (a metric over fewer says so)
    for (const auto& d : diffs[i]) pairs = std::max(pairs, d.n);
    std::vector<std::string> row{claims[i].text, std::to_string(pairs)};
    bool any_hold = false, any_fail = false, holm_hold = false, holm_fail = false;
    for (std::size_t j = 0; j < cols.size(); ++j) {
      const util::MeanCi& d = diffs[i][j];
      if (d.n == 0) {
        row.push_back("—");
        row.push_back("undecided");
        continue;
      }
      const double sign_p = util::no_spread_sign_p(d);
      const std::string sign = std::isnan(sign_p) ? "" : ", sign test p " + p_text(sign_p);
      const std::string own = d.n > 1 && d.n != pairs ? " (" + std::to_string(d.n) + " pairs)" : std::string();
      row.push_back(d.n == 1        ? signed_text(util::round_like(d.mean, std::nan(""))) + " (1 pair)"
                    : d.no_spread() ? signed_text(util::round_like(d.mean, std::nan(""))) + " (no spread" + sign + ")" +
                                          own
                                    : signed_text(util::round_to_uncertainty(d.mean, d.half)) + own);
      const int verdict = util::paired_verdict(d);
      const bool hold = verdict > 0, fail = verdict < 0;
      any_hold = any_hold || hold;
      any_fail = any_fail || fail;
      const bool kept = holm[test_of[i] * cols.size() + j];
      holm_hold = holm_hold || (kept && d.mean > 0);
      holm_fail = holm_fail || (kept && d.mean < 0);
      std::string undecided = "undecided";
      if (const std::int64_t need = util::pairs_for_power(d, 0.8, kSeedCap); need > 0) {  // what deciding takes
        undecided +=
            " (" + (need > kSeedCap ? "> " + std::to_string(kSeedCap) : "~" + std::to_string(need)) + " seeds)";
      }
      row.push_back(hold ? "holds" : fail ? "fails" : undecided);
    }
    tally(0, any_hold, any_fail);
    tally(1, holm_hold, holm_fail);
    row.push_back(overall(any_hold, any_fail));
    row.push_back(overall(holm_hold, holm_fail));
    md += join_row(row, false);
  }
  auto counts = [&](int which) {
    return std::to_string(count[which][0]) + " hold, " + std::to_string(count[which][1]) + " fail, " +
           std::to_string(count[which][2]) + " mixed, " + std::to_string(count[which][3]) + " undecided";
  };
  md += "\nOf " + std::to_string(claims.size()) + " claims: " + counts(0) + "; with Holm's correction over the " +
        std::to_string(tests) + " tests: " + counts(1) + ".\n";
  return md;
}

bool lower_is_better(const std::string& col) { return col.find("loss") != std::string::npos; }

// The larger side of a trial's bootstrap interval around its accuracy `key` (a summary.jsonl record).
double bootstrap_half(const nlohmann::json& rec, const std::string& key) {
  const auto& b = rec["bootstrap"][key];
  return util::Interval{b[0].get<double>(), b[1].get<double>()}.half_around(rec["metrics"][key].get<double>());
}

// The half-width of a trial's accuracy `key` with both sources of uncertainty: the test images (the bootstrap's) and,
// for a mean over label samples, the samples' spread ("sample_half"), combined as independent.
double accuracy_half(const nlohmann::json& rec, const std::string& key) {
  const double b = bootstrap_half(rec, key);
  const auto sh = rec.find("sample_half");
  if (sh == rec.end() || !sh->is_object() || !sh->contains(key)) return b;
  return std::hypot(b, (*sh)[key].get<double>());
}

std::string median_text(std::vector<double> xs) { return xs.empty() ? "" : fmt_num(median(std::move(xs))); }

// How finely the test sets resolve each accuracy: the median half-width of the trials' bootstrap intervals.
std::string resolution_section(const std::vector<nlohmann::json>& records) {
  std::map<std::string, std::vector<double>> halves, sizes;
  for (const auto& r : records) {
    if (!r.contains("bootstrap")) continue;
    for (auto it = r["bootstrap"].begin(); it != r["bootstrap"].end(); ++it) {
      if (it.key().find(".random_init.") != std::string::npos) continue;  // the same test images
      halves[it.key()].push_back(bootstrap_half(r, it.key()));
      const std::string ev = it.key().substr(0, it.key().find('.'));
      sizes[it.key()].push_back(r["test_n"][ev].get<double>());
    }
  }
  if (halves.empty()) return "";
  std::string md = "\n## Test-set resolution\n\nThe half-width of the 95 % bootstrap interval over the test images, "
                   "median over the trials: accuracies closer than about this are not told apart by one evaluation.\n\n";
  md += join_row({"metric", "test images", "± points"}, false) + md_rule(3);
  for (const auto& [k, hs] : halves) {
    std::vector<double> h = hs;
    const double med = median(h);
    md += join_row({k, median_text(sizes[k]), util::round_like(med, med)}, false);
  }
  return md;
}

// The untrained encoder's accuracies, the baseline every gain is taken from (mean ± the t interval's half-width over
// seeds). One row when the groups agree seed for seed (the architecture and the seed make the random encoder; a
// masker or a loss does not), else one row per group.
std::string random_init_section(const ReportGroups& groups, const std::vector<std::string>& num_cols) {
  std::vector<std::string> cols;
  for (const auto& c : num_cols) {
    const auto ri = c.find(".random_init.");
    if (ri != std::string::npos && is_accuracy(c.substr(ri + 13))) cols.push_back(c);
  }
  if (cols.empty()) return "";
  // One row needs every measured group linked to the others through seeds they share (compared, directly or through
  // a third), and the same figure wherever two share a seed.
  // column -> seed -> (value, the first group with it)
  std::map<std::string, std::map<std::string, std::pair<double, std::size_t>>> by_seed;
  std::vector<std::size_t> parent(groups.groups.size());
  for (std::size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto root = [&parent](std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  bool shared = true;
  std::vector<std::size_t> measured;  // groups with a figure
  for (std::size_t gi = 0; gi < groups.groups.size(); ++gi) {
    bool any = false;
    for (const auto& c : cols) {
      for (const auto& [seed, v] : groups.groups[gi].by_seed(c)) {
        const auto [it, fresh] = by_seed[c].emplace(seed, std::make_pair(v, gi));  // (a group's seeds are distinct)
        if (!fresh) {
          parent[root(gi)] = root(it->second.second);
          if (it->second.first != v) shared = false;
        }
        any = true;
      }
    }
    if (any) measured.push_back(gi);
  }
  for (std::size_t gi : measured) shared = shared && root(gi) == root(measured.front());
  std::string md = "\n## The random-init encoder\n\nThe same probes on an untrained encoder of each trial's "
                   "architecture and seed: mean ± the half-width of its 95 % confidence interval over seeds (Student "
                   "t; one seed: \"(1)\"; every seed the same value: \"(n equal)\", no interval). A trained figure "
                   "near these has learned nothing the probe can use.\n\n";
  std::vector<std::string> head{"group", "seeds"};
  for (const auto& c : cols) {
    const auto ri = c.find(".random_init.");
    head.push_back(c.substr(8, ri - 8) + c.substr(ri + 12));
  }
  md += join_row(head, false) + md_rule(head.size());
  if (shared && measured.size() > 1) {
    std::vector<std::string> row{"every group (the same seed for seed)", ""};
    std::set<std::string> seeds;
    for (const auto& c : cols) {
      std::vector<double> xs;
      for (const auto& [seed, v] : by_seed[c]) {
        seeds.insert(seed);
        xs.push_back(v.first);
      }
      row.push_back(group_cell(xs));
    }
    row[1] = std::to_string(seeds.size());
    return md + join_row(row, false);
  }
  for (const auto& g : groups.groups) {
    std::vector<std::string> row{g.label, ""};
    std::set<std::string> seeds;
    for (const auto& c : cols) {
      for (const auto& [seed, v] : g.by_seed(c)) seeds.insert(seed);
      row.push_back(group_cell(g.completed_values(c)));
    }
    row[1] = std::to_string(seeds.size());
    md += join_row(row, false);
  }
  return md;
}

// The best group by its mean over its own seeds can be behind the runner-up on the seeds both completed (a failed
// trial, a seed only one group has): the means then rank what the pairs do not support.
std::string reversed_text(const util::MeanCi& d) {
  return ": the runner-up is ahead on the " + std::to_string(d.n) + " seeds both completed, so the ranking by means "
         "(over different seeds) does not hold; these two cannot be ranked (complete the same seeds in both).\n";
}

// The best group against the runner-up where their paired differences are all alike: the sign test decides from six
// seeds on; the same value in every seed is a tie, whatever the number of seeds.
// `reversed`: the runner-up is ahead on the paired seeds (see reversed_text).
std::string best_no_spread_text(const util::MeanCi& d, bool reversed) {
  if (d.mean == 0.0) return "the same on every seed, so these two cannot be ranked.\n";
  const std::string head = signed_text(util::round_like(d.mean, std::nan(""))) + " on every seed";
  if (reversed) return head + reversed_text(d);
  if (util::paired_verdict(d) != 0) {
    return head + " (sign test p " + p_text(util::no_spread_sign_p(d)) +
           "): the best is told apart from the runner-up.\n";
  }
  return head + ": no spread to judge by, and too few seeds for a sign test (six), so these two cannot be ranked at "
                "this scale.\n";
}

// --best-by METRIC: the best group (mean over seeds) and trial, and whether the runner-up can be told apart.
// `lenient` (the sweep file's best_by): a metric no trial has is a note in the section, not an error, so a sweep
// never fails over its summary.
std::string best_section(const std::vector<nlohmann::json>& records, const ReportGroups& groups, const std::string& metric,
                         const std::vector<std::string>& num_cols, const std::vector<std::string>& gain_cols,
                         bool lenient, const std::string& from) {
  std::string col = metric == "final_loss" || metric == "seconds" || metric == "images_per_s" ? metric : "metrics." + metric;
  if (const auto g = metric.find(".gain."); g != std::string::npos) col = "gain." + metric.substr(0, g) + metric.substr(g + 5);
  const bool known = std::find(num_cols.begin(), num_cols.end(), col) != num_cols.end() ||
                     std::find(gain_cols.begin(), gain_cols.end(), col) != gain_cols.end();
  if (!known) {
    std::string names;
    for (const auto& c : num_cols) names += (names.empty() ? "" : ", ") + (c.rfind("metrics.", 0) == 0 ? c.substr(8) : c);
    for (const auto& c : gain_cols) {
      const std::string k = c.substr(5);
      names += ", " + k.substr(0, k.find('.')) + ".gain" + k.substr(k.find('.'));
    }
    const bool any_metric = std::any_of(records.begin(), records.end(), [](const nlohmann::json& r) {
      return r["state"] == "completed" && r.contains("metrics") && !r["metrics"].empty();
    });
    if (lenient) {
      return "\n## Best by `" + metric + "`\n\n" +
             (any_metric ? "No trial has this metric: " + from + " names none of theirs (known: " + names + ").\n"
                         : std::string("No trial has this metric yet.\n"));
    }
    throw ConfigError(from + " '" + metric + "': no trial has this metric (known: " + names + ")");
  }
  const bool low = lower_is_better(col);
  auto better = [low](double a, double b) { return low ? a < b : a > b; };
  std::vector<std::pair<double, const ReportGroup*>> ranked;
  for (const auto& g : groups.groups) {
    const std::vector<double> xs = g.completed_values(col);
    if (!xs.empty()) ranked.emplace_back(util::mean_ci(xs).mean, &g);
  }
  std::string md = "\n## Best by `" + metric + "` (" + (low ? "lower" : "higher") + " is better)\n\n";
  if (ranked.empty()) return md + "No completed trial has it yet.\n";
  std::stable_sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) { return better(a.first, b.first); });
  const ReportGroup& best = *ranked[0].second;
  const bool tie = ranked.size() > 1 && ranked[1].first == ranked[0].first;
  md += std::string(tie ? "- Best group (tied on the mean; listed first): `" : "- Best group: `") + best.label + "`: " +
        group_cell(best.completed_values(col)) + ".\n";
  if (ranked.size() > 1) {
    const ReportGroup& second = *ranked[1].second;
    const util::MeanCi d = paired(best, second, col);
    const util::MeanCi a = util::mean_ci(best.completed_values(col)), b = util::mean_ci(second.completed_values(col));
    md += "- Runner-up: `" + second.label + "`: " + group_cell(second.completed_values(col)) + ". ";
    const bool reversed = low ? d.mean > 0 : d.mean < 0;  // best - runner-up, against the ranking's direction
    if (d.n >= 2) {
      const std::string diff = signed_text(util::round_to_uncertainty(d.mean, d.half));
      md += "Paired difference over " + std::to_string(d.n) + " seeds: " +
            (d.no_spread()               ? best_no_spread_text(d, reversed)
             : reversed                  ? diff + reversed_text(d)
             : d.separated_from_zero()   ? diff + ": the best is told apart from the runner-up.\n"
                                         : diff + ": the interval includes 0, so these two cannot be ranked at this "
                                                  "scale" + seeds_to_decide(d) + ".\n");
    } else if (a.n >= 2 && b.n >= 2) {
      const bool apart = !a.no_spread() && !b.no_spread() &&
                         (a.mean - a.half > b.mean + b.half || a.mean + a.half < b.mean - b.half);
      md += apart ? "Their intervals do not overlap: the best is told apart.\n"
             : a.no_spread() || b.no_spread()
                 ? "A group with the same value in every seed has no interval, so these two cannot be ranked at this "
                   "scale.\n"
                 : "Their intervals overlap, so these two cannot be ranked at this scale.\n";
    } else {
      md += std::string(a.n < 2 && b.n < 2 ? "Each has"
                        : a.n < 2              ? "The best has"
                                               : "The runner-up has") +
            " one completed seed, so these two cannot be ranked (run more seeds).\n";
    }
  }
  const nlohmann::json* top = nullptr;
  std::size_t tied = 0;  // other trials with the same value
  for (const auto& r : records) {
    const nlohmann::json v = get_number(r, col);
    if (r["state"] != "completed" || v.is_null()) continue;
    if (top == nullptr || better(v.get<double>(), get_number(*top, col).get<double>())) {
      top = &r;
      tied = 0;
    } else if (v.get<double>() == get_number(*top, col).get<double>()) {
      ++tied;
    }
  }
  if (top != nullptr) {
    const std::string n = (*top)["name"].get<std::string>();
    const std::string ties =
        tied > 0 ? ", tied with " + std::to_string(tied) + " other trial" + (tied > 1 ? "s" : "") + "; the first listed"
                 : std::string();
    md += "- Best trial: `" + n + "` (" + metric + " " + fmt_num(get_number(*top, col).get<double>()) + ties +
          "): `trials/" + n + "`, weights `trials/" + n + "/checkpoints/latest.safetensors` (for `ijepa export` / "
          "`ijepa eval`).\n";
  }
  return md;
}

// A summary.jsonl record of a sweep.json trial entry in `state`, nothing measured yet (trial_summary fills it in).
nlohmann::json trial_record(const nlohmann::json& trial, const std::string& state) {
  return {{"index", trial.value("index", nlohmann::json())},
          {"name", trial.at("name")},
          {"values", trial.value("values", nlohmann::json::object())},
          {"seed", trial.value("seed", nlohmann::json())},
          {"state", state},
          {"step", nullptr},
          {"total_steps", nullptr},
          {"final_loss", nullptr},
          {"metrics", nlohmann::json::object()},
          {"test_n", nlohmann::json::object()},
          {"bootstrap", nlohmann::json::object()},
          {"sample_half", nlohmann::json::object()},
          {"seconds", nullptr},
          {"images_per_s", nullptr},
          {"error", nullptr}};
}

}  // namespace

nlohmann::json trial_summary(const fs::path& sweep_dir, const nlohmann::json& trial) {
  const std::string name = trial.at("name").get<std::string>();
  const TrialState st = inspect_trial(sweep_dir, name);
  const fs::path run = TrialPaths(sweep_dir, name).run_dir;
  nlohmann::json rec = trial_record(trial, st.state);
  rec["step"] = number_or_null(st.status, "step");
  rec["total_steps"] = number_or_null(st.status, "total_steps");
  nlohmann::json loss = number_or_null(st.status, "final_loss");
  if (loss.is_null()) loss = number_or_null(st.status, "loss");  // still running, or stopped before the end
  rec["final_loss"] = loss;
  nlohmann::json test_n = nlohmann::json::object();
  std::vector<std::size_t> bad_lines;
  rec["metrics"] = st.run_dir ? eval_metrics(run, &test_n, &bad_lines) : nlohmann::json::object();
  rec["test_n"] = test_n;
  // The 95 % bootstrap interval over the test images of every accuracy (util/stats.hpp), the random-init
  // encoder's ("<evaluator>.random_init.<metric>") included: the same test images.
  nlohmann::json boot = nlohmann::json::object(), half = nlohmann::json::object();
  for (auto it = rec["metrics"].begin(); it != rec["metrics"].end(); ++it) {
    const std::string& k = it.key();
    const auto dot = k.find('.');
    if (dot == std::string::npos || !is_accuracy(k.substr(k.rfind('.') + 1)) || !test_n.contains(k.substr(0, dot))) {
      continue;
    }
    const util::Interval iv = util::accuracy_bootstrap(it->get<double>(), test_n[k.substr(0, dot)].get<std::int64_t>());
    boot[k] = {iv.lo, iv.hi};
    // A mean over label samples (low_shot with samples >= 2: "<prefix>.sd_<metric>" and "<prefix>.samples" beside
    // it): the half-width of the samples' t interval, which the test images' bootstrap does not include.
    const auto last = k.rfind('.') + 1;
    if (const double h = label_sample_half(rec["metrics"], k.substr(0, last), k.substr(last)); h > 0.0) half[k] = h;
  }
  rec["bootstrap"] = boot;
  rec["sample_half"] = half;
  rec["seconds"] = number_or_null(st.status, "seconds_total");  // every session's, a resumed trial's included
  if (rec["seconds"].is_null()) rec["seconds"] = number_or_null(st.status, "seconds");
  std::vector<double> ips;
  if (st.run_dir) {
    for (const auto& m : read_jsonl_lenient(run / "metrics.jsonl")) {
      if (m.contains("images_per_s") && m["images_per_s"].is_number()) ips.push_back(m["images_per_s"].get<double>());
    }
  }
  rec["images_per_s"] = ips.empty() ? number_or_null(st.status, "images_per_s") : nlohmann::json(median(ips));
  std::string error = st.error;
  if (!bad_lines.empty()) {
    std::string lines;
    for (std::size_t i = 0; i < bad_lines.size() && i < 5; ++i) lines += (i ? ", " : "") + std::to_string(bad_lines[i]);
    if (bad_lines.size() > 5) lines += ", ...";
    // (relative to the sweep directory: the summaries do not depend on how the directory was named)
    const bool one = bad_lines.size() == 1;
    const std::string what = "trials/" + name + "/eval.jsonl" + (one ? ": line " : ": lines ") + lines +
                             (one ? " is" : " are") +
                             " not a JSON object (left out: an evaluator's metrics may be from an earlier record)";
    error = error.empty() ? what : error + "; " + what;
  }
  rec["error"] = error.empty() ? nlohmann::json() : nlohmann::json(error);
  return rec;
}

SweepSummaryText render_sweep_summary(const nlohmann::json& sweep, const std::vector<nlohmann::json>& records,
                                      const ReportOptions& opts) {
  SweepSummaryText out;
  for (const auto& r : records) out.jsonl += r.dump() + "\n";

  // Columns: every metric of the trials; gains (trained minus random init) beside each metric that has a baseline.
  std::vector<std::string> axis_keys;
  if (sweep.contains("axis_keys") && sweep["axis_keys"].is_array()) {
    for (const auto& k : sweep["axis_keys"]) axis_keys.push_back(k.get<std::string>());
  } else {
    std::set<std::string> ks;
    for (const auto& r : records) {
      for (auto it = r["values"].begin(); it != r["values"].end(); ++it) ks.insert(it.key());
    }
    axis_keys.assign(ks.begin(), ks.end());
  }
  std::vector<SweepAxis> axes;
  for (const auto& k : axis_keys) axes.push_back(SweepAxis{k, false, {}});
  const std::vector<std::string> shorts = axis_short_names(axes);
  std::vector<std::map<std::string, std::string>> shown;  // per axis: value's JSON -> its Markdown text
  for (const auto& k : axis_keys) shown.push_back(axis_display(records, k));
  std::set<std::string> metric_set;
  for (const auto& r : records) {
    for (auto it = r["metrics"].begin(); it != r["metrics"].end(); ++it) metric_set.insert(it.key());
  }
  std::vector<std::string> num_cols{"final_loss"};  // the CSV's columns
  for (const auto& m : metric_set) num_cols.push_back("metrics." + m);
  num_cols.push_back("seconds");
  num_cols.push_back("images_per_s");
  std::vector<std::string> gain_cols;
  for (const auto& m : metric_set) {
    const auto ri = m.find(".random_init.");
    // Gains of accuracies (top1, top1_1pct, ...), as eval.jsonl's own "gain" has them.
    if (ri != std::string::npos && is_accuracy(m.substr(ri + 13))) {
      gain_cols.push_back("gain." + m.substr(0, ri) + "." + m.substr(ri + 13));
    }
  }
  auto col_title = [](const std::string& c) {
    if (c == "final_loss") return std::string("final loss");
    if (c == "seconds") return std::string("s");
    if (c == "images_per_s") return std::string("img/s");
    if (c.rfind("gain.", 0) == 0) return c.substr(5) + " gain";
    return c.substr(8);
  };
  auto csv_title = [](const std::string& c) {
    return c.rfind("metrics.", 0) == 0 ? c.substr(8) : c.rfind("gain.", 0) == 0 ? c.substr(5) + ".gain" : c;
  };
  // The tables a reader compares: trained metrics and gains, not the random-init figures (they are in the CSV),
  // and no column whose value is the same in every trial that has one (listed once below the tables).
  std::vector<std::string> md_cols{"final_loss"};
  std::vector<std::string> constant;
  for (const auto& c : num_cols) {
    if (c == "final_loss" || c.find(".random_init.") != std::string::npos) continue;
    std::set<double> seen;
    std::size_t n = 0;
    for (const auto& r : records) {
      const nlohmann::json v = get_number(r, c);
      if (!v.is_null()) {
        seen.insert(v.get<double>());
        ++n;
      }
    }
    if (n >= 2 && seen.size() == 1 && c.rfind("metrics.", 0) == 0) {
      constant.push_back(col_title(c) + " = " + fmt_num(*seen.begin()));
      continue;
    }
    md_cols.push_back(c);
    if (c.rfind("metrics.", 0) == 0) {
      const std::string g = "gain." + c.substr(8);
      if (std::find(gain_cols.begin(), gain_cols.end(), g) != gain_cols.end()) md_cols.push_back(g);
    }
  }
  // A trial's cell: accuracies carry the half-width of their 95 % interval (the bootstrap's over the test images,
  // with the label samples' spread for a mean over samples); a gain, both of its terms' half-widths combined as if
  // independent (the root of the sum of squares): conservative, since the trained and the random-init encoder are
  // probed on the same test images (and the same label samples).
  auto trial_cell = [](const nlohmann::json& r, const std::string& c) -> std::string {
    const nlohmann::json v = get_number(r, c);
    if (v.is_null()) return "";
    const bool has_boot = r.contains("bootstrap") && r["bootstrap"].is_object();
    if (c.rfind("metrics.", 0) == 0 && has_boot && r["bootstrap"].contains(c.substr(8))) {
      return util::round_to_uncertainty(v.get<double>(), accuracy_half(r, c.substr(8)));
    }
    if (c.rfind("gain.", 0) == 0 && has_boot) {
      const std::string trained = c.substr(5), ev = trained.substr(0, trained.find('.'));
      const std::string random = ev + ".random_init" + trained.substr(ev.size());
      if (r["bootstrap"].contains(trained) && r["bootstrap"].contains(random)) {
        const double a = accuracy_half(r, trained), b = accuracy_half(r, random);
        return util::round_to_uncertainty(v.get<double>(), std::sqrt(a * a + b * b));
      }
    }
    return fmt_num(v.get<double>());
  };

  // Counts.
  std::map<std::string, int> counts;
  for (const auto& r : records) ++counts[r["state"].get<std::string>()];
  const std::string name = sweep.value("name", std::string("sweep"));
  out.md += "# Sweep `" + name + "`\n\n";
  out.md += "Source `" + sweep.value("source", std::string("?")) + "`, " + std::to_string(records.size()) + " trials:";
  bool first = true;
  for (const char* s : {"completed", "running", "interrupted", "failed", "pending"}) {
    if (counts[s] > 0) {
      out.md += std::string(first ? " " : ", ") + std::to_string(counts[s]) + " " + s;
      first = false;
    }
  }
  out.md += ".\n\n## Trials\n\nProbe accuracies (%) with the half-width of their 95 % bootstrap interval over the test "
            "images (for a mean over label samples, combined with the samples' t interval); a gain is the trained "
            "encoder's figure minus the random-init encoder's.\n\n";

  // Trial table (md and csv).
  std::vector<std::string> head{"#", "trial"};
  std::vector<std::string> chead{"index", "name"};
  for (std::size_t i = 0; i < axis_keys.size(); ++i) {
    if (axis_keys[i] == "seed") continue;  // a list-mode "seed" axis: the seed column follows
    head.push_back(shorts[i]);
    chead.push_back(axis_keys[i]);
  }
  for (const char* c : {"seed", "state", "step"}) {
    head.push_back(c);
    chead.push_back(c);
  }
  chead.push_back("total_steps");
  for (const auto& c : md_cols) head.push_back(col_title(c));
  for (const auto& c : num_cols) chead.push_back(csv_title(c));
  head.push_back("error");
  chead.push_back("error");
  out.md += join_row(head, false) + md_rule(head.size());
  out.csv += join_row(chead, true);
  for (const auto& r : records) {
    std::vector<std::string> row{value_text(r["index"]), r["name"].get<std::string>()};
    std::vector<std::string> crow = row;
    for (std::size_t i = 0; i < axis_keys.size(); ++i) {
      if (axis_keys[i] == "seed") continue;
      const nlohmann::json v = r["values"].contains(axis_keys[i]) ? r["values"][axis_keys[i]] : nlohmann::json();
      row.push_back(shown[i].at(v.dump()));
      crow.push_back(value_text(v));
    }
    const std::string step = r["step"].is_null() ? "" : value_text(r["step"]);
    const std::string total = r["total_steps"].is_null() ? "" : value_text(r["total_steps"]);
    row.push_back(value_text(r["seed"]));
    row.push_back(r["state"].get<std::string>());
    row.push_back(step.empty() ? "" : step + (total.empty() ? "" : "/" + total));
    crow.push_back(value_text(r["seed"]));
    crow.push_back(r["state"].get<std::string>());
    crow.push_back(step);
    crow.push_back(total);
    for (const auto& c : md_cols) row.push_back(trial_cell(r, c));
    for (const auto& c : num_cols) crow.push_back(value_text(get_number(r, c)));
    row.push_back(value_text(r["error"]));
    crow.push_back(value_text(r["error"]));
    out.md += join_row(row, false);
    out.csv += join_row(crow, true);
  }

  // Grouped: trials whose values differ only by the seed, in order of first appearance.
  const ReportGroups groups = group_over_seeds(records, axis_keys, shorts, shown);
  out.md += "\n## Grouped over seeds\n\nMean ± the half-width of its 95 % confidence interval over the completed trials "
            "of each group (Student t over seeds; one trial: its value and \"(1)\"; every seed the same value: "
            "\"(n equal)\", no interval; none: —).\n\n";
  std::vector<std::string> ghead, gchead;
  for (std::size_t i : groups.value_axes) {
    ghead.push_back(shorts[i]);
    gchead.push_back(axis_keys[i]);
  }
  for (const char* c : {"seeds", "completed"}) {
    ghead.push_back(c);
    gchead.push_back(c);
  }
  gchead.push_back("trials");
  for (const auto& c : md_cols) ghead.push_back(col_title(c));
  std::vector<std::string> gcsv_cols = num_cols;
  gcsv_cols.insert(gcsv_cols.end(), gain_cols.begin(), gain_cols.end());
  for (const auto& c : gcsv_cols) {
    for (const char* suffix : {"_mean", "_std", "_ci95", "_n"}) gchead.push_back(csv_title(c) + suffix);
  }
  out.md += join_row(ghead, false) + md_rule(ghead.size());
  out.grouped_csv += join_row(gchead, true);
  for (const ReportGroup& g : groups.groups) {
    const nlohmann::json& r0 = *g.members.front();
    std::vector<std::string> row, crow;
    for (std::size_t i : groups.value_axes) {
      const nlohmann::json v = r0["values"].contains(axis_keys[i]) ? r0["values"][axis_keys[i]] : nlohmann::json();
      row.push_back(shown[i].at(v.dump()));
      crow.push_back(value_text(v));
    }
    std::string seeds;
    std::size_t done = 0;
    for (const auto* m : g.members) {
      seeds += (seeds.empty() ? "" : " ") + value_text((*m)["seed"]);
      if ((*m)["state"] == "completed") ++done;
    }
    row.push_back(seeds);
    row.push_back(std::to_string(done) + "/" + std::to_string(g.members.size()));
    crow.push_back(seeds);
    crow.push_back(std::to_string(done));
    crow.push_back(std::to_string(g.members.size()));
    for (const auto& c : md_cols) {  // a cell over fewer trials than completed (a metric some lack) says how many
      const std::vector<double> xs = g.completed_values(c);
      row.push_back(group_cell(xs) + (xs.size() > 1 && xs.size() < done ? " (n " + std::to_string(xs.size()) + ")"
                                                                          : std::string()));
    }
    for (const auto& c : gcsv_cols) {
      const std::vector<double> xs = g.completed_values(c);
      const MeanStd ms = mean_std(xs);
      const util::MeanCi ci = util::mean_ci(xs);
      crow.push_back(xs.empty() ? std::string() : nlohmann::json(ms.mean).dump());
      crow.push_back(xs.size() < 2 ? std::string() : nlohmann::json(ms.std).dump());
      crow.push_back(xs.size() < 2 ? std::string() : nlohmann::json(ci.half).dump());
      crow.push_back(std::to_string(xs.size()));  // the completed trials that have this column
    }
    out.md += join_row(row, false);
    out.grouped_csv += join_row(crow, true);
  }
  if (!constant.empty()) {
    out.md += "\nThe same in every trial (left out above):";
    for (std::size_t i = 0; i < constant.size(); ++i) out.md += (i ? ", " : " ") + constant[i];
    out.md += ".\n";
  }
  out.md += random_init_section(groups, num_cols);
  out.md += resolution_section(records);
  if (!opts.reference.empty()) {
    const ReportGroup& ref = find_group(groups, opts.reference, opts.reference_from);
    out.md += "\n## Paired differences against `" + ref.label + "`\n\nEach group's trial minus the reference's trial "
              "of the same seed, over the seeds both completed: mean ± 95 % CI (Student t). \"above\"/\"below\": the "
              "interval excludes 0; \"undecided\": it does not, there is one pair, or every pair differs by the "
              "same amount (no spread: no interval to judge by). Accuracies and their gains "
              "only (a probe's chosen settings such as its l2 are not results); the final loss is compared only "
              "where the components are the same (another masker or loss changes what the loss measures).\n\n";
    std::vector<std::string> h{"group", "pairs"};
    std::vector<std::string> cols;
    for (const auto& c : md_cols) {
      const bool setting = c.rfind("metrics.", 0) == 0 && !is_accuracy(c.substr(c.find_last_of('.') + 1));
      if (c == "seconds" || c == "images_per_s" || setting) continue;
      cols.push_back(c);
    }
    // Whether two groups differ in a component's key (their final losses then measure different things).
    auto components_differ = [](const ReportGroup& a, const ReportGroup& b) {
      if (a.members.empty() || b.members.empty()) return false;
      const nlohmann::json& va = (*a.members.front())["values"];
      const nlohmann::json& vb = (*b.members.front())["values"];
      for (const nlohmann::json* v : {&va, &vb}) {
        for (auto it = v->begin(); it != v->end(); ++it) {
          if (it.key().rfind("components.", 0) != 0) continue;
          const nlohmann::json& other = v == &va ? vb : va;
          if (!other.contains(it.key()) || other[it.key()] != it.value()) return true;
        }
      }
      return false;
    };
    for (const auto& c : cols) h.push_back(col_title(c));
    out.md += join_row(h, false) + md_rule(h.size());
    for (const auto& g : groups.groups) {
      if (&g == &ref) continue;
      std::vector<util::MeanCi> ds;
      std::size_t pairs = 0;  // the most any column has (a column over fewer says so)
      for (const auto& c : cols) {
        ds.push_back(paired(g, ref, c));
        pairs = std::max(pairs, ds.back().n);
      }
      std::vector<std::string> row{g.label, std::to_string(pairs)};
      for (std::size_t j = 0; j < cols.size(); ++j) {
        row.push_back(cols[j] == "final_loss" && components_differ(g, ref) ? "not comparable"
                                                                            : diff_cell(ds[j], pairs));
      }
      out.md += join_row(row, false);
    }
  }
  if (!opts.orderings.empty()) out.md += orderings_section(groups, opts.orderings, num_cols, opts.order_from);
  if (!opts.best_by.empty()) {
    out.md += best_section(records, groups, opts.best_by, num_cols, gain_cols, opts.best_by_lenient, opts.best_by_from);
  }
  return out;
}

ReportOptions file_report_options(const nlohmann::json& sweep_json, const std::string& origin) {
  ReportOptions o;
  if (!sweep_json.contains("sweep") || !sweep_json["sweep"].is_object() || !sweep_json["sweep"].contains("report")) {
    return o;
  }
  const nlohmann::json& r = sweep_json["sweep"]["report"];
  const std::string at = origin + ": sweep.report";
  check_sweep_report_block(r, at);  // parse_sweep checked it; sweep.json may have been edited since
  o.reference = r.value("reference", std::string());
  o.reference_from = at + ".reference";
  o.best_by = r.value("best_by", std::string());
  o.best_by_lenient = true;
  o.best_by_from = at + ".best_by";
  if (r.contains("orderings")) o.orderings = r["orderings"].get<std::vector<std::string>>();
  o.order_from = at + ".orderings";
  return o;
}

namespace {
// The command line's options over the sweep file's.
ReportOptions merged_options(const nlohmann::json& sweep_json, const std::string& origin, const ReportOptions& cli) {
  ReportOptions o = file_report_options(sweep_json, origin);
  if (!cli.reference.empty()) {
    o.reference = cli.reference;
    o.reference_from = cli.reference_from;
  }
  if (!cli.best_by.empty()) {
    o.best_by = cli.best_by;
    o.best_by_lenient = cli.best_by_lenient;
    o.best_by_from = cli.best_by_from;
  }
  if (!cli.orderings.empty()) {
    o.orderings = cli.orderings;
    o.order_from = cli.order_from;
  }
  return o;
}
}  // namespace

void check_sweep_report(const nlohmann::json& sweep_json, const std::string& origin) {
  ReportOptions o = file_report_options(sweep_json, origin);
  if (o.reference.empty() && o.orderings.empty()) return;
  o.best_by.clear();  // no metric exists before the trials run
  std::vector<nlohmann::json> records;
  for (const auto& t : sweep_json.at("trials")) records.push_back(trial_record(t, "pending"));
  (void)render_sweep_summary(sweep_json, records, o);
}

bool ReportOptions::empty() const { return reference.empty() && best_by.empty() && orderings.empty(); }

nlohmann::json ReportOptions::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (!reference.empty()) j["reference"] = reference;
  if (!best_by.empty()) j["best_by"] = best_by;
  if (!orderings.empty()) j["orderings"] = orderings;
  return j;
}

ReportOptions saved_report_options(const fs::path& dir) {
  ReportOptions o;
  const fs::path file = dir / kSavedReportOptions;
  std::error_code ec;
  if (!fs::exists(file, ec)) return o;
  const nlohmann::json j = load_json_file(file);
  const std::string at = file.string();
  if (!j.is_object()) throw ConfigFileError(at + ": expected an object {reference, best_by, orderings}");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const bool list = it.key() == "orderings";
    if ((it.key() != "reference" && it.key() != "best_by" && !list) || (list ? !it->is_array() : !it->is_string())) {
      throw ConfigFileError(at + ": unexpected key or value '" + it.key() + "' (reference and best_by: strings; "
                            "orderings: a list of strings; written by ijepa report)");
    }
  }
  o.reference = j.value("reference", std::string());
  o.best_by = j.value("best_by", std::string());
  for (const auto& x : j.value("orderings", nlohmann::json::array())) {
    if (!x.is_string()) throw ConfigFileError(at + ": orderings: expected strings, got " + x.dump());
    o.orderings.push_back(x.get<std::string>());
  }
  o.reference_from = at + " (reference)";
  o.best_by_from = at + " (best_by)";
  o.order_from = at + " (orderings)";
  o.best_by_lenient = true;  // a summary written mid-sweep may have no trial with the metric yet
  return o;
}

SweepSummaryText write_sweep_summary(const fs::path& dir, const ReportOptions& cli) {
  const nlohmann::json sweep = read_sweep_json(dir);
  std::vector<nlohmann::json> records;
  for (const auto& t : sweep["trials"]) records.push_back(trial_summary(dir, t));
  // Without options of its own (the sweep refreshing its summary, a plain `ijepa report`), the summary keeps those
  // the last `ijepa report` was given: a re-run of the sweep no longer drops the orderings someone asked for.
  const ReportOptions opts = merged_options(sweep, (dir / "sweep.json").string(),
                                            cli.empty() ? saved_report_options(dir) : cli);
  SweepSummaryText text = render_sweep_summary(sweep, records, opts);
  // Written atomically, and only when the text changes (a re-run that skips every trial touches nothing).
  auto put = [&](const char* name, const std::string& content) {
    std::ifstream in(dir / name, std::ios::binary);
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open() || old != content) write_file_atomic(dir / name, content);
  };
  put("summary.jsonl", text.jsonl);
  put("summary.md", text.md);
  put("summary.csv", text.csv);
  put("summary_grouped.csv", text.grouped_csv);
  return text;
}

}  // namespace ijepa::host
