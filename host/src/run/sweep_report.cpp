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
#include "ijepa/host/run/sweep_dir.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

std::vector<nlohmann::json> read_jsonl_lenient(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j.is_object()) out.push_back(std::move(j));
    } catch (const std::exception&) {
      // a line being written right now
    }
  }
  return out;
}

nlohmann::json number_or_null(const nlohmann::json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key) && obj[key].is_number()) return obj[key];
  return nullptr;
}

// eval.jsonl -> {"<evaluator>.<metric>": value, "<evaluator>.random_init.<metric>": value} from the last record of
// each evaluator entry. Two entries of one evaluator type are told apart as "<type>#<entry index>".
nlohmann::json eval_metrics(const fs::path& run_dir) {
  std::map<std::string, nlohmann::json> last;  // where -> record
  for (auto& r : read_jsonl_lenient(run_dir / "eval.jsonl")) {
    if (!r.contains("evaluator") || !r["evaluator"].is_string()) continue;
    const std::string where = r.contains("where") && r["where"].is_string() ? r["where"].get<std::string>()
                                                                             : r["evaluator"].get<std::string>();
    last[where] = std::move(r);
  }
  std::map<std::string, int> per_type;
  for (const auto& [where, r] : last) ++per_type[r["evaluator"].get<std::string>()];
  static const std::set<std::string> skip{"step", "epoch", "train_n", "test_n", "seconds"};
  nlohmann::json m = nlohmann::json::object();
  for (const auto& [where, r] : last) {
    std::string prefix = r["evaluator"].get<std::string>();
    if (per_type[prefix] > 1) {
      const auto dot = where.find_last_of('.');
      prefix += "#" + (dot == std::string::npos ? where : where.substr(dot + 1));
    }
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (it->is_number() && skip.count(it.key()) == 0) m[prefix + "." + it.key()] = *it;
    }
    if (r.contains("random_init") && r["random_init"].is_object()) {
      for (auto it = r["random_init"].begin(); it != r["random_init"].end(); ++it) {
        if (it->is_number() && skip.count(it.key()) == 0) m[prefix + ".random_init." + it.key()] = *it;
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
  if (col.rfind("metrics.", 0) == 0) {
    const std::string k = col.substr(8);
    return rec["metrics"].contains(k) && rec["metrics"][k].is_number() ? rec["metrics"][k] : nlohmann::json();
  }
  return rec.contains(col) && rec[col].is_number() ? rec[col] : nlohmann::json();
}

}  // namespace

MeanStd mean_std(const std::vector<double>& xs) {
  MeanStd r;
  r.n = xs.size();
  if (xs.empty()) {
    r.mean = r.std = std::nan("");
    return r;
  }
  double s = 0.0;
  for (double x : xs) s += x;
  r.mean = s / static_cast<double>(xs.size());
  if (xs.size() < 2) {
    r.std = std::nan("");
    return r;
  }
  double ss = 0.0;
  for (double x : xs) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  return r;
}

nlohmann::json trial_summary(const fs::path& sweep_dir, const nlohmann::json& trial) {
  const std::string name = trial.at("name").get<std::string>();
  const TrialState st = inspect_trial(sweep_dir, name);
  const fs::path run = TrialPaths(sweep_dir, name).run_dir;
  nlohmann::json rec;
  rec["index"] = trial.contains("index") ? trial["index"] : nlohmann::json();
  rec["name"] = name;
  rec["values"] = trial.contains("values") ? trial["values"] : nlohmann::json::object();
  rec["seed"] = trial.contains("seed") ? trial["seed"] : nlohmann::json();
  rec["state"] = st.state;
  rec["step"] = number_or_null(st.status, "step");
  rec["total_steps"] = number_or_null(st.status, "total_steps");
  nlohmann::json loss = number_or_null(st.status, "final_loss");
  if (loss.is_null()) loss = number_or_null(st.status, "loss");  // still running, or stopped before the end
  rec["final_loss"] = loss;
  rec["metrics"] = st.run_dir ? eval_metrics(run) : nlohmann::json::object();
  rec["seconds"] = number_or_null(st.status, "seconds");
  std::vector<double> ips;
  if (st.run_dir) {
    for (const auto& m : read_jsonl_lenient(run / "metrics.jsonl")) {
      if (m.contains("images_per_s") && m["images_per_s"].is_number()) ips.push_back(m["images_per_s"].get<double>());
    }
  }
  rec["images_per_s"] = ips.empty() ? number_or_null(st.status, "images_per_s") : nlohmann::json(median(ips));
  rec["error"] = st.error.empty() ? nlohmann::json() : nlohmann::json(st.error);
  return rec;
}

SweepSummaryText render_sweep_summary(const nlohmann::json& sweep, const std::vector<nlohmann::json>& records) {
  SweepSummaryText out;
  for (const auto& r : records) out.jsonl += r.dump() + "\n";

  // Columns.
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
  std::set<std::string> metric_set;
  for (const auto& r : records) {
    for (auto it = r["metrics"].begin(); it != r["metrics"].end(); ++it) metric_set.insert(it.key());
  }
  std::vector<std::string> num_cols{"final_loss"};
  for (const auto& m : metric_set) num_cols.push_back("metrics." + m);
  num_cols.push_back("seconds");
  num_cols.push_back("images_per_s");
  auto col_title = [](const std::string& c) {
    if (c == "final_loss") return std::string("final loss");
    if (c == "seconds") return std::string("s");
    if (c == "images_per_s") return std::string("img/s");
    return c.substr(8);
  };
  auto csv_title = [](const std::string& c) { return c.rfind("metrics.", 0) == 0 ? c.substr(8) : c; };

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
  out.md += ".\n\n## Trials\n\n";

  // Trial table (md and csv).
  std::vector<std::string> head{"#", "trial"};
  std::vector<std::string> chead{"index", "name"};
  for (std::size_t i = 0; i < axis_keys.size(); ++i) {
    head.push_back(shorts[i]);
    chead.push_back(axis_keys[i]);
  }
  for (const char* c : {"seed", "state", "step"}) {
    head.push_back(c);
    chead.push_back(c);
  }
  chead.push_back("total_steps");
  for (const auto& c : num_cols) {
    head.push_back(col_title(c));
    chead.push_back(csv_title(c));
  }
  head.push_back("error");
  chead.push_back("error");
  out.md += join_row(head, false) + md_rule(head.size());
  out.csv += join_row(chead, true);
  for (const auto& r : records) {
    std::vector<std::string> row{value_text(r["index"]), r["name"].get<std::string>()};
    std::vector<std::string> crow = row;
    for (const auto& k : axis_keys) {
      const nlohmann::json v = r["values"].contains(k) ? r["values"][k] : nlohmann::json();
      row.push_back(value_text(v));
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
    for (const auto& c : num_cols) {
      const nlohmann::json v = get_number(r, c);
      row.push_back(v.is_null() ? "" : fmt_num(v.get<double>()));
      crow.push_back(value_text(v));
    }
    row.push_back(value_text(r["error"]));
    crow.push_back(value_text(r["error"]));
    out.md += join_row(row, false);
    out.csv += join_row(crow, true);
  }

  // Grouped: trials whose values differ only by the seed, in order of first appearance.
  std::vector<std::string> group_keys;
  std::map<std::string, std::vector<const nlohmann::json*>> groups;
  for (const auto& r : records) {
    nlohmann::json v = r["values"];
    v.erase("seed");
    const std::string key = v.dump();
    if (groups.count(key) == 0) group_keys.push_back(key);
    groups[key].push_back(&r);
  }
  std::vector<std::size_t> value_axes;
  for (std::size_t i = 0; i < axis_keys.size(); ++i) {
    if (axis_keys[i] != "seed") value_axes.push_back(i);
  }
  out.md += "\n## Grouped over seeds\n\nMean ± sample standard deviation over the completed trials of each group "
            "(— with a single one).\n\n";
  std::vector<std::string> ghead, gchead;
  for (std::size_t i : value_axes) {
    ghead.push_back(shorts[i]);
    gchead.push_back(axis_keys[i]);
  }
  for (const char* c : {"seeds", "completed"}) {
    ghead.push_back(c);
    gchead.push_back(c);
  }
  gchead.push_back("trials");
  for (const auto& c : num_cols) {
    ghead.push_back(col_title(c));
    gchead.push_back(csv_title(c) + "_mean");
    gchead.push_back(csv_title(c) + "_std");
  }
  out.md += join_row(ghead, false) + md_rule(ghead.size());
  out.grouped_csv += join_row(gchead, true);
  for (const auto& key : group_keys) {
    const auto& members = groups[key];
    const nlohmann::json& r0 = *members.front();
    std::vector<std::string> row, crow;
    for (std::size_t i : value_axes) {
      const nlohmann::json v = r0["values"].contains(axis_keys[i]) ? r0["values"][axis_keys[i]] : nlohmann::json();
      row.push_back(value_text(v));
      crow.push_back(value_text(v));
    }
    std::string seeds;
    std::size_t done = 0;
    for (const auto* m : members) {
      seeds += (seeds.empty() ? "" : " ") + value_text((*m)["seed"]);
      if ((*m)["state"] == "completed") ++done;
    }
    row.push_back(seeds);
    row.push_back(std::to_string(done) + "/" + std::to_string(members.size()));
    crow.push_back(seeds);
    crow.push_back(std::to_string(done));
    crow.push_back(std::to_string(members.size()));
    for (const auto& c : num_cols) {
      std::vector<double> xs;
      for (const auto* m : members) {
        if ((*m)["state"] != "completed") continue;
        const nlohmann::json v = get_number(*m, c);
        if (!v.is_null()) xs.push_back(v.get<double>());
      }
      const MeanStd ms = mean_std(xs);
      if (xs.empty()) {
        row.push_back("—");
        crow.push_back("");
        crow.push_back("");
      } else {
        row.push_back(fmt_num(ms.mean) + " ± " + (xs.size() < 2 ? std::string("—") : fmt_num(ms.std)));
        crow.push_back(nlohmann::json(ms.mean).dump());
        crow.push_back(xs.size() < 2 ? std::string() : nlohmann::json(ms.std).dump());
      }
    }
    out.md += join_row(row, false);
    out.grouped_csv += join_row(crow, true);
  }
  return out;
}

SweepSummaryText write_sweep_summary(const fs::path& dir) {
  const nlohmann::json sweep = read_sweep_json(dir);
  std::vector<nlohmann::json> records;
  for (const auto& t : sweep["trials"]) records.push_back(trial_summary(dir, t));
  SweepSummaryText text = render_sweep_summary(sweep, records);
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
