#include "ijepa/host/run/sweep_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <thread>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/run/jepa_model.hpp"
#include "ijepa/host/run/run_dir.hpp"
#include "ijepa/host/run/run_stages.hpp"
#include "ijepa/host/run/sweep_dir.hpp"
#include "ijepa/host/run/sweep_report.hpp"
#include "ijepa/host/run/training_data.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

std::string fixed(double x, int prec) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << x;
  return os.str();
}

// An exclusive lock on DIR/.lock for the life of the sweep, so two sweeps never share a directory.
proc::FileLock lock_sweep(const fs::path& dir) {
  const fs::path f = dir / ".lock";
  std::optional<proc::FileLock> lock = proc::FileLock::try_acquire(f);
  if (!lock) {
    const auto holder = lock_holder(f);
    throw ConfigFileError(dir.string() + ": another ijepa sweep is running in this directory" +
                          (holder ? " (pid " + std::to_string(*holder) + ")" : std::string()));
  }
  return std::move(*lock);
}

}  // namespace

namespace {

std::string changed_reason(const std::string& name, const std::string& state, const fs::path& run_dir,
                           const std::string& diff) {
  return "trial '" + name + "' (" + state + "): its config changed at '" + diff + "' since it ran (" +
         (run_dir / "config.resolved.json").string() + "); a sweep never overwrites " +
         (state == "completed" ? "a completed trial" : "a trial's progress") +
         ": restore the setting, choose another --out, or delete " + run_dir.string() + " to run it again";
}

// Removes the half-made directories earlier attempts at a trial left: <name>.tmp-<pid> of `ijepa train`,
// <name>.tmp-reuse-<pid> of a stopped --reuse copy.
// Only directories with the marker whose process is gone (run_dir.hpp), never another trial named like one.
void remove_half_made(const TrialPaths& tp) {
  std::error_code ec;
  const std::string base = tp.run_dir.filename().string();
  for (const auto& e : fs::directory_iterator(tp.run_dir.parent_path(), ec)) {
    std::error_code rm;
    if (leftover_partial_dir(e.path(), base, "") || leftover_partial_dir(e.path(), base, "reuse-")) {
      fs::remove_all(e.path(), rm);
    }
  }
}

// Copies the completed run `src` into the trial's run directory (nothing of the trial there yet, or a failed attempt
// without a checkpoint; an earlier attempt's log is kept as <name>.log.1, as a re-run keeps it). The copy is made
// in <name>.tmp-reuse-<pid> and renamed into place, so a trial directory is never half a copy. Its
// config.resolved.json takes the trial's name and description (labels; the rest is as the source recorded it), so
// the sweep's later runs skip it as their own completed trial; status.json's run_dir names the copy.
void copy_reused_run(const fs::path& src, const TrialPaths& tp, const nlohmann::json& resolved) {
  std::error_code ec;
  if (fs::exists(tp.log, ec)) fs::rename(tp.log, tp.old_log, ec);  // an earlier attempt's, kept as a re-run keeps it
  fs::remove_all(tp.run_dir, ec);  // a failed attempt with nothing to resume from, which a re-run would delete
  fs::remove(tp.proc, ec);
  remove_half_made(tp);
  const fs::path tmp = tp.run_dir.string() + ".tmp-reuse-" + std::to_string(::getpid());
  const std::string started = utc_now();
  try {
    clear_own_partial_dir(tmp);  // this pid's name, from before
    make_partial_dir(tmp);  // marked first, so a copy stopped half-way is known as one
  } catch (const std::exception& e) {
    throw std::runtime_error("--reuse " + src.string() + ": " + e.what());
  }
  // (overwrite: a marker the source kept, if its removal was cut short; the copy's is removed once in place)
  fs::copy(src, tmp,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks | fs::copy_options::overwrite_existing, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove_all(tmp, ec);
    throw std::runtime_error("--reuse " + src.string() + ": cannot copy it to " + tmp.string() + ": " + why);
  }
  fs::remove(tmp / ".lock", ec);  // the source's lock file is not this trial's
  // The labels become this trial's (the experiment's name and description); every other key stays as recorded.
  try {
    nlohmann::json config = load_json_file(tmp / "config.resolved.json");
    for (const char* k : {"name", "description"}) {
      if (resolved.contains(k)) {
        config[k] = resolved[k];
      } else {
        config.erase(k);
      }
    }
    write_file_atomic(tmp / "config.resolved.json", config.dump(2) + "\n");
    // status.json says where the run is: here now (env.json and the eval records keep what made them, the source's).
    if (fs::exists(tmp / "status.json", ec)) {
      nlohmann::json status = load_json_file(tmp / "status.json");
      if (status.contains("run_dir")) {
        status["run_dir"] = fs::absolute(tp.run_dir).lexically_normal().string();
        write_file_atomic(tmp / "status.json", status.dump(2) + "\n");
      }
    }
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    throw std::runtime_error("--reuse " + src.string() + ": " + e.what());
  }
  fs::rename(tmp, tp.run_dir, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove_all(tmp, ec);
    throw std::runtime_error(tp.run_dir.string() + ": cannot move the copy of " + src.string() + " into place: " + why);
  }
  fs::remove(tp.run_dir / kPartialMarker, ec);
  // The log: what happened, then the source's own sweep log when it was a sweep's trial (its log.txt is in the copy).
  std::string log = "==== ijepa sweep: trial reused at " + started + ": a copy of " + src.string() +
                    " (completed; its config differs from this trial's only in labels and incidental keys); "
                    "nothing trained ====\n";
  const fs::path src_log = src.string() + ".log";
  if (fs::is_regular_file(src_log, ec)) log += read_file_text(src_log);
  write_file_atomic(tp.log, log);
  write_file_atomic(tp.proc, nlohmann::json({{"state", "completed"},
                                             {"exit_code", 0},
                                             {"reused_from", src.string()},
                                             {"started", started},
                                             {"ended", utc_now()}})
                                     .dump(2) + "\n");
}

struct Outcome {
  std::string state;  // completed | failed | interrupted
  std::string error;
  nlohmann::json proc;
};

}  // namespace

SweepPlan plan_sweep(const nlohmann::json& layered, const std::vector<std::string>& sets, const Registry& registry,
                     const std::string& source, const KeyOrigins& origins) {
  if (!layered.is_object() || !layered.contains("sweep")) {
    throw ConfigFileError(source + ": no \"sweep\" object (one run is `ijepa train " + source + "`)");
  }
  SweepPlan plan;
  plan.registry = &registry;
  plan.source = source;
  plan.sets = sets;
  plan.sweep = layered["sweep"];
  plan.spec = parse_sweep(plan.sweep, source);
  nlohmann::json base = layered;
  base.erase("sweep");
  nlohmann::json experiment;
  try {
    experiment = resolve_experiment(base, {}, registry, source);
  } catch (const ConfigError& e) {
    throw ConfigError(located_error(e.what(), origins, source));
  }
  plan.name = experiment.value("name", std::string("experiment"));
  plan.name_template = plan.spec.name_template.empty() ? default_name_template(plan.spec.axes) : plan.spec.name_template;
  for (const auto& s : sets) {
    std::string key = s.substr(0, s.find('='));
    if (!key.empty() && key[0] == '+') key = key.substr(1);
    if (key == "seed") throw ConfigFileError("--set " + s + ": the sweep sets \"seed\" of every trial (use sweep.seeds)");
    for (const auto& a : plan.spec.axes) {
      if (a.key == key) throw ConfigFileError("--set " + s + ": '" + key + "' is a sweep axis of " + source);
    }
    // A --set of another component type comes after the trial's values and replaces the component: an axis of that
    // component's keys would then change nothing while the trials' names say it does.
    if (const std::string c = component_type_key(key); !c.empty()) {
      if (experiment["components"][c].value("type", nlohmann::json()) != assignment_value(s.substr(s.find('=') + 1))) {
        for (const auto& a : plan.spec.axes) {
          if (a.key.rfind("components." + c + ".", 0) == 0) {
            throw ConfigFileError("--set " + s + ": replaces the " + c + " after each trial's values, so the sweep "
                                  "axis '" + a.key + "' of " + source + " would change nothing; set the type in the "
                                  "sweep file");
          }
        }
      }
    }
  }
  const std::vector<SweepTrial> trials = expand_sweep(plan.spec, experiment, source);
  // A trial's axis values and seed are the sweep's, whatever file set the key before; a --set is the command line's.
  KeyOrigins trial_origins = origins;
  for (const auto& a : plan.spec.axes) {
    forget_origins(trial_origins, a.key);
    // A bad value of an axis names the axis (it used to name the base file that set the key before the sweep).
    trial_origins[a.key] = source + " (sweep axis " + a.key + ")";
  }
  forget_origins(trial_origins, "seed");
  for (const auto& s : sets) forget_origins(trial_origins, s.substr(0, s.find('=')));
  // f() for trial t, with an error named as the trial's (and the file or --set that gave the bad value).
  auto for_trial = [&](const SweepTrial& t, const std::function<void()>& f) {
    try {
      f();
    } catch (const std::exception& e) {
      const std::string set_in = error_origin(e.what(), trial_origins, source);
      // The sweep file alone (an axis of it: the trial's name says the value) goes without saying.
      const bool only_this_file = set_in == source || (set_in.rfind(source + " (sweep axis ", 0) == 0 &&
                                                       set_in.find("), ") == std::string::npos);
      throw ConfigFileError(source + ": trial '" + t.name + "': " + (only_this_file ? "" : set_in + ": ") + e.what());
    }
  };
  // A factory's ConfigError does not say which --set gave the value it refuses (resolve_experiment's errors do).
  auto built_by_factory = [&](const std::function<void()>& f) {
    try {
      f();
    } catch (const ConfigError& e) {
      throw ConfigError(with_set_origin(e.what(), sets));
    }
  };
  // The grid a masker or model is built for, and each trial's (encoder, predictor, loss).
  auto grid_of = [](const nlohmann::json& resolved) {
    const sdk::BuildContext c = experiment_context(resolved);
    return " " + std::to_string(c.image_size) + "/" + std::to_string(c.patch_size) + "/" + std::to_string(c.in_chans);
  };
  std::set<std::string> maskers_built, models;
  std::vector<std::size_t> model_firsts;  // the first trial of each distinct model, in trial order
  for (const auto& t : trials) {
    PlannedTrial p;
    p.trial = t;
    for_trial(t, [&] {
      p.resolved = resolve_experiment(apply_sweep_point(base, t), sets, registry, source);
      // What `ijepa train` would reject before training (ranges, the patch grid, train.init_from's file), rejected
      // here before any trial runs, --dry-run included.
      check_before_training(p.resolved, sets, /*init_file=*/true);
      // The masker as training builds it, whose factory checks its own values against the grid (min_keep, the
      // scales): cheap, so each distinct one is built here.
      const nlohmann::json& comps = p.resolved.at("components");
      const std::string grid = grid_of(p.resolved);
      if (maskers_built.insert(comps.at("masker").dump() + grid).second) {
        built_by_factory([&] { (void)make_rank_masker(p.resolved, registry, 0); });
      }
      if (models.insert(comps.at("encoder").dump() + comps.at("predictor").dump() + comps.at("loss").dump() + grid)
              .second) {
        model_firsts.push_back(plan.trials.size());
      }
    });
    p.config_sha = config_hash(p.resolved);
    plan.trials.push_back(std::move(p));
  }
  // A sweep that varies the model (depth, heads, widths, the loss) builds each distinct one here, on the CPU, so a
  // value only its factory checks (num_heads 3 for a width of 32, a loss's beta -1) fails before the first trial
  // rather than after hours of the others. One model for every trial is built by the first trial, which fails at
  // once with the same words, so a plan of a large model costs nothing (docs/hostile-inputs.md).
  if (model_firsts.size() > 1) {
    for (const std::size_t i : model_firsts) {
      for_trial(plan.trials[i].trial,
                [&] { built_by_factory([&] { check_model_config(plan.trials[i].resolved, registry); }); });
    }
  }
  check_sweep_report(sweep_json(plan, {}), source);  // the "report" block's groups, before anything runs
  return plan;
}

namespace {
// The sweep file as sweep.json records it: absolute and without links, so that it names the file from anywhere.
std::string recorded_source(const std::string& source) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(source), ec);
  return ec ? source : p.string();
}
}  // namespace

nlohmann::json sweep_json(const SweepPlan& plan, const std::vector<std::string>& plugin_dirs) {
  nlohmann::json j = {{"format", kSweepFormat},
                      {"version", kSweepVersion},
                      {"name", plan.name},
                      {"source", recorded_source(plan.source)},
                      {"sweep", plan.sweep},
                      {"mode", plan.spec.mode},
                      {"name_template", plan.name_template},
                      {"sets", plan.sets},
                      {"plugin_dirs", plugin_dirs}};
  j["axis_keys"] = nlohmann::json::array();
  for (const auto& a : plan.spec.axes) j["axis_keys"].push_back(a.key);
  j["trials"] = nlohmann::json::array();
  for (const auto& p : plan.trials) {
    j["trials"].push_back({{"index", p.trial.index},
                           {"name", p.trial.name},
                           {"values", p.trial.values},
                           {"seed", p.trial.seed},
                           {"config_sha", p.config_sha}});
  }
  return j;
}

double gpu_share(int jobs) {
  if (jobs < 1) throw std::invalid_argument("gpu_share: jobs must be >= 1");
  return std::floor(950.0 / jobs) / 1000.0;
}

std::vector<std::string> trial_environment(const std::vector<std::string>& parent, int jobs, unsigned hw_threads,
                                           bool cuda) {
  std::vector<std::string> env = parent;
  if (jobs <= 1) return env;
  auto find = [&](const std::string& key) -> std::string* {
    for (auto& kv : env)
      if (kv.size() > key.size() && kv.compare(0, key.size() + 1, key + "=") == 0) return &kv;
    return nullptr;
  };
  if (find("OMP_NUM_THREADS") == nullptr) {
    const unsigned per = std::max(1u, hw_threads / static_cast<unsigned>(jobs));
    env.push_back("OMP_NUM_THREADS=" + std::to_string(per));
  }
  if (cuda) {
    std::ostringstream f;
    f << "per_process_memory_fraction:" << std::fixed << std::setprecision(3) << gpu_share(jobs);
    std::string* conf = find("PYTORCH_CUDA_ALLOC_CONF");
    if (conf == nullptr) {
      env.push_back("PYTORCH_CUDA_ALLOC_CONF=" + f.str());
    } else if (conf->find("per_process_memory_fraction") == std::string::npos) {
      *conf += (conf->back() == '=' ? "" : ",") + f.str();
    }
  }
  env.erase(std::remove_if(env.begin(), env.end(),
                           [](const std::string& kv) { return kv.rfind("IJEPA_SWEEP_JOBS=", 0) == 0; }),
            env.end());
  env.push_back("IJEPA_SWEEP_JOBS=" + std::to_string(jobs));
  return env;
}

namespace {

// What the trial's own files say (run | resume | rerun | skip | error), before --reuse is looked at.
std::vector<TrialAction> decide_from_files(const fs::path& dir, const SweepPlan& plan, bool restart_failed) {
  std::vector<TrialAction> out;
  std::error_code ec;
  const bool exists = fs::is_directory(dir / "trials", ec);
  for (const auto& p : plan.trials) {
    TrialAction a;
    if (!exists) {
      a.action = "run";
      out.push_back(a);
      continue;
    }
    const std::string& name = p.trial.name;
    const TrialState st = inspect_trial(dir, name);
    const fs::path run_dir = TrialPaths(dir, name).run_dir;
    auto config_diff = [&]() -> std::string {
      nlohmann::json old;
      try {
        old = load_json_file(run_dir / "config.resolved.json");
      } catch (const std::exception& e) {
        return std::string("\x01") + e.what();
      }
      if (plan.registry != nullptr) fill_added_defaults(old, *plan.registry);  // keys added since: their defaults
      return first_material_difference(std::move(old), p.resolved, /*finished=*/st.state == "completed");
    };
    if (st.state == "running") {
      a.action = "error";
      a.reason = "trial '" + name + "' is running (pid " + std::to_string(st.pid) + ", " + run_dir.string() +
                 "): wait for it or stop it first";
    } else if (st.state == "completed" || (st.state == "interrupted" && st.run_dir)) {
      const std::string diff = config_diff();
      if (!diff.empty() && diff[0] == '\x01') {
        a.action = "error";
        a.reason = "trial '" + name + "': " + diff.substr(1) + " (delete " + run_dir.string() + " to run it again)";
      } else if (!diff.empty()) {
        a.action = "error";
        a.reason = changed_reason(name, st.state, run_dir, diff);
      } else {
        a.action = st.state == "completed" ? "skip" : "resume";
      }
    } else if (st.state == "failed") {
      // With a checkpoint and the same config, continue from it: an OOM-killed trial loses nothing.
      const bool resumable = !restart_failed && fs::exists(run_dir / "checkpoints" / "LATEST", ec) &&
                             fs::exists(run_dir / "config.resolved.json", ec) && config_diff().empty();
      a.action = resumable ? "resume" : "rerun";
    } else {
      a.action = "run";  // pending, or stopped before its run directory existed
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace

std::vector<ReusableRun> reusable_runs(const std::vector<fs::path>& sources) {
  std::vector<ReusableRun> out;
  for (const fs::path& src : sources) {
    std::error_code ec;
    if (!fs::exists(src, ec)) throw ConfigFileError("--reuse " + src.string() + ": no such directory");
    if (!fs::is_directory(src, ec)) throw ConfigFileError("--reuse " + src.string() + ": not a directory");
    auto sorted_children = [&](const fs::path& d) {
      std::vector<fs::path> c;
      std::error_code e2;
      fs::directory_iterator it(d, e2);
      if (e2) throw ConfigFileError("--reuse " + src.string() + ": cannot read " + d.string() + ": " + e2.message());
      for (const auto& e : it) {
        const std::string n = e.path().filename().string();
        if (e.is_directory(e2) && n.find(".tmp-") == std::string::npos) c.push_back(e.path());
      }
      std::sort(c.begin(), c.end());
      return c;
    };
    // The run directories this source names: itself, a sweep's trials, or those of the runs and sweeps up to two
    // levels below it (runs/: runs/<name>/<time> of `ijepa train`, runs/<name>/sweep of `ijepa sweep`).
    std::vector<fs::path> dirs;
    std::function<void(const fs::path&, int)> collect = [&](const fs::path& d, int depth) {
      std::error_code e2;
      if (fs::exists(d / "config.resolved.json", e2)) {
        dirs.push_back(d);
      } else if (fs::exists(d / "sweep.json", e2) && fs::is_directory(d / "trials", e2)) {
        for (const auto& t : sorted_children(d / "trials")) dirs.push_back(t);
      } else if (depth > 0) {
        for (const auto& c : sorted_children(d)) collect(c, depth - 1);
      }
    };
    collect(src, 2);
    const std::size_t before = out.size();
    for (const auto& d : dirs) {
      nlohmann::json status, config;
      try {
        status = load_json_file(d / "status.json");
        config = load_json_file(d / "config.resolved.json");
      } catch (const std::exception&) {
        continue;  // not a finished run (no status yet, or a half-made directory)
      }
      if (status.is_object() && status.value("state", "") == "completed" && config.is_object()) {
        // The real directory (a symlinked run is copied, never linked to, and its source never written).
        const fs::path real = fs::canonical(d, ec);
        if (!ec) out.push_back({real, std::move(config)});
      }
    }
    if (out.size() == before) {
      throw ConfigFileError("--reuse " + src.string() +
                            ": no completed run there (a run directory, a sweep directory, or a directory of those)");
    }
  }
  return out;
}

std::vector<TrialAction> decide_trials(const fs::path& dir, const SweepPlan& plan, bool restart_failed,
                                       const std::vector<ReusableRun>& reuse) {
  std::vector<TrialAction> out = decide_from_files(dir, plan, restart_failed);
  if (reuse.empty()) return out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i].action != "run" && out[i].action != "rerun") continue;
    const fs::path own = fs::weakly_canonical(fs::absolute(TrialPaths(dir, plan.trials[i].trial.name).run_dir));
    const nlohmann::json& now = plan.trials[i].resolved;
    for (const auto& r : reuse) {
      // Not the trial itself, nor a run that holds the sweep directory (a copy of it would contain itself).
      const auto m = std::mismatch(r.dir.begin(), r.dir.end(), own.begin(), own.end());
      if (m.first == r.dir.end()) continue;  // r.dir is own or one of its parents
      nlohmann::json recorded = r.config;  // the experiment's name labels a run, as its description does
      if (plan.registry != nullptr) fill_added_defaults(recorded, *plan.registry);
      if (now.contains("name")) {
        recorded["name"] = now["name"];
      } else {
        recorded.erase("name");
      }
      if (first_material_difference(std::move(recorded), now, /*finished=*/true).empty()) {
        out[i].action = "reuse";
        out[i].source = r.dir;
        break;
      }
    }
  }
  return out;
}

void print_trial_table(std::ostream& os, const SweepPlan& plan, const std::vector<TrialAction>& actions) {
  const std::vector<std::string> shorts = axis_short_names(plan.spec.axes);
  std::vector<std::string> head{"#", "trial"};
  for (std::size_t a = 0; a < shorts.size(); ++a) {
    if (plan.spec.axes[a].key != "seed") head.push_back(shorts[a]);  // a list-mode "seed" axis: the seed column
  }
  head.push_back("seed");
  if (!actions.empty()) head.push_back("action");
  std::vector<std::map<std::string, std::string>> labels;  // per axis: a value's JSON -> its text
  for (const auto& a : plan.spec.axes) labels.push_back(axis_value_labels(a.values));
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < plan.trials.size(); ++i) {
    const auto& t = plan.trials[i].trial;
    std::vector<std::string> row{std::to_string(t.index), t.name};
    for (std::size_t a = 0; a < plan.spec.axes.size(); ++a) {
      if (plan.spec.axes[a].key == "seed") continue;
      row.push_back(labels[a].at(t.values[plan.spec.axes[a].key].dump()));  // a trial's value is one of its axis's
    }
    row.push_back(std::to_string(t.seed));
    if (!actions.empty()) {
      const TrialAction& a = actions[i];
      row.push_back(a.action == "error" ? "error: " + a.reason : a.action == "reuse" ? "reuse " + a.source.string() : a.action);
    }
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (std::size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], c + 1 == head.size() ? 0 : r[c].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string s = " ";
    for (std::size_t c = 0; c < r.size(); ++c) {
      s += " " + r[c];
      if (c + 1 < r.size()) s += std::string(width[c] - std::min(width[c], r[c].size()) + 1, ' ');
    }
    os << s << "\n";
  };
  line(head);
  for (const auto& r : rows) line(r);
}

void check_sweep_out(const fs::path& dir, const SweepPlan& plan) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) throw ConfigFileError(dir.string() + ": exists and is not a directory");
  if (!fs::exists(dir / "sweep.json", ec)) {
    // Empty, or the start a sweep stopped before its first file (a full disk): its lock file and an empty trials/.
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string n = e.path().filename().string();
      std::error_code e2;
      if (n == ".lock" || n.rfind(".sweep.json.tmp.", 0) == 0 ||  // its first write, cut short
          (n == "trials" && fs::is_directory(e.path(), e2) && fs::is_empty(e.path(), e2))) {
        continue;
      }
      throw ConfigFileError(dir.string() + ": exists and is not a sweep directory (no sweep.json); choose another --out");
    }
    return;
  }
  const nlohmann::json old = read_sweep_json(dir);
  const std::string was = old.value("source", std::string());
  if (was.empty() || was == plan.source || was == recorded_source(plan.source)) return;
  // The same file under another path (a link, another working directory): the same sweep. A recorded path that
  // names no file from here (a relative one of an older sweep.json, a tree moved or copied, a file renamed) is the
  // same sweep when the file name or the experiment's name is the same.
  std::error_code e1, e2;
  const bool same = fs::path(was).is_absolute() && fs::exists(was, e1)
                        ? fs::equivalent(was, plan.source, e2)
                        : fs::path(was).filename() == fs::path(plan.source).filename() ||
                              old.value("name", std::string()) == plan.name;
  if (!same) {
    throw ConfigFileError(dir.string() + ": holds the sweep of " + was + ", not of " + plan.source +
                          " (its trials would drop out of the summaries); choose another --out");
  }
}

std::vector<fs::path> foreign_trial_dirs(const fs::path& dir, const SweepPlan& plan) {
  std::set<std::string> names;
  for (const auto& p : plan.trials) names.insert(p.trial.name);
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "trials", ec)) {
    const std::string n = e.path().filename().string();
    std::error_code ed;
    if (e.is_directory(ed) && names.count(n) == 0 && n.find(".tmp-") == std::string::npos) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> stale_build_notes(const fs::path& dir, const SweepPlan& plan,
                                           const std::vector<TrialAction>& actions,
                                           const PluginBuilds& plugins_now) {
  struct Stale {
    std::set<std::string> then;
    std::string now;
    std::vector<std::string> trials;
  };
  // The plugins a trial's config uses: those that registered its components' and evaluators' types.
  const auto used_by = [&](const nlohmann::json& resolved) {
    std::set<std::string> ids;
    const nlohmann::json comps = resolved.value("components", nlohmann::json::object());
    const auto add = [&](const std::string& kind, const nlohmann::json& c) {
      if (!c.is_object() || !c.contains("type") || !c["type"].is_string()) return;
      const auto it = plugins_now.provider.find(kind + "/" + c["type"].get<std::string>());
      if (it != plugins_now.provider.end()) ids.insert(it->second);
    };
    for (const char* kind : {"masker", "encoder", "predictor", "loss"}) add(kind, comps.value(kind, nlohmann::json()));
    for (const auto& e : comps.value("evaluators", nlohmann::json::array())) add("evaluator", e);
    return ids;
  };
  std::map<std::string, Stale> by_plugin;  // plugin id -> the trials trained with another file
  for (std::size_t i = 0; i < plan.trials.size() && i < actions.size(); ++i) {
    if (actions[i].action != "skip") continue;
    const std::string& name = plan.trials[i].trial.name;
    nlohmann::json env;
    try {
      env = load_json_file(TrialPaths(dir, name).run_dir / "env.json");
    } catch (const std::exception&) {
      continue;  // not recorded: nothing to compare
    }
    if (!env.is_object()) continue;
    const bool resumed = env.contains("resumes") && env["resumes"].is_array() && !env["resumes"].empty() &&
                         env["resumes"].back().is_object() && env["resumes"].back().contains("plugins");
    const nlohmann::json used = resumed ? env["resumes"].back()["plugins"] : env.value("plugins", nlohmann::json());
    if (!used.is_array()) continue;
    const std::set<std::string> uses = used_by(plan.trials[i].resolved);
    for (const auto& p : used) {
      if (!p.is_object() || !p.contains("id") || !p["id"].is_string() || !p.contains("sha256") ||
          !p["sha256"].is_string()) {
        continue;
      }
      const auto now = plugins_now.sha256.find(p["id"].get<std::string>());
      if (now == plugins_now.sha256.end() || now->second == p["sha256"].get<std::string>()) continue;
      if (!plugins_now.provider.empty() && uses.count(now->first) == 0) continue;
      Stale& st = by_plugin[now->first];
      st.then.insert(p["sha256"].get<std::string>().substr(0, 12));
      st.now = now->second;
      st.trials.push_back(name);
    }
  }
  std::vector<std::string> out;
  for (const auto& [id, st] : by_plugin) {
    std::string names;
    for (std::size_t k = 0; k < st.trials.size() && k < 3; ++k) names += (k ? ", " : "") + st.trials[k];
    if (st.trials.size() > 3) names += ", ...";
    std::string then;
    for (const auto& h : st.then) then += (then.empty() ? "" : " / ") + h;
    const bool one = st.trials.size() == 1;
    out.push_back("note: " + std::to_string(st.trials.size()) + " completed trial" + (one ? "" : "s") + " (" + names +
                  ") " + (one ? "was" : "were") + " trained with another build of plugin " + id + " (sha256 " + then +
                  " then, " + st.now.substr(0, 12) + " now); " + (one ? "it is" : "they are") + " kept as " +
                  (one ? "it is" : "they are") + ": remove " + (one ? "its directory" : "their directories") +
                  " under " + (dir / "trials").string() + " (or sweep into another --out) to train " +
                  (one ? "it" : "them") + " with this build");
  }
  return out;
}

int run_sweep(const SweepPlan& plan, const SweepRunOptions& opts, std::ostream& os) {
  const fs::path dir = opts.out;
  std::error_code ec;
  // 1. The directory: new, empty, or a sweep directory of the same file (checked without writing anything).
  check_sweep_out(dir, plan);
  // 2. Every decision, before anything is written.
  const std::vector<ReusableRun> reuse = reusable_runs(opts.reuse);
  for (const auto& a : decide_trials(dir, plan, opts.restart_failed, reuse)) {
    if (a.action == "error") throw ConfigFileError(a.reason);
  }
  check_writable_parent(dir / "trials");
  fs::create_directories(dir / "trials", ec);
  if (ec) throw std::runtime_error((dir / "trials").string() + ": cannot create: " + ec.message());
  const proc::FileLock lock = lock_sweep(dir);
  const std::vector<TrialAction> actions = decide_trials(dir, plan, opts.restart_failed, reuse);  // again, locked
  for (const auto& a : actions) {
    if (a.action == "error") throw ConfigFileError(a.reason);
  }
  // 3. sweep.json (rewritten only when it changes) and the trials' config files.
  const nlohmann::json sweep_obj = sweep_json(plan, opts.plugin_dirs);
  const std::string sj = sweep_obj.dump(2) + "\n";
  if (read_file_text(dir / "sweep.json") != sj) write_file_atomic(dir / "sweep.json", sj);
  for (const auto& f : foreign_trial_dirs(dir, plan)) {
    os << "note: " << f.string() << " is not a trial of this sweep (left as it is)\n";
  }
  std::size_t n_skip = 0, n_run = 0, n_resume = 0, n_rerun = 0, n_reuse = 0;
  std::deque<std::size_t> queue;
  std::vector<std::size_t> reused;
  for (std::size_t i = 0; i < plan.trials.size(); ++i) {
    const std::string& a = actions[i].action;
    if (a == "skip") {
      ++n_skip;
      continue;
    }
    (a == "resume" ? n_resume : a == "rerun" ? n_rerun : a == "reuse" ? n_reuse : n_run) += 1;
    write_file_atomic(TrialPaths(dir, plan.trials[i].trial.name).config, plan.trials[i].resolved.dump(2) + "\n");
    if (a == "reuse") {
      reused.push_back(i);
    } else {
      queue.push_back(i);
    }
  }
  const std::size_t total = plan.trials.size();
  os << "ijepa sweep " << plan.name << ": " << total << " trials in " << dir.string() << " (" << n_run << " to run";
  if (n_resume) os << ", " << n_resume << " to resume";
  if (n_rerun) os << ", " << n_rerun << " failed before, to run again";
  if (n_skip) os << ", " << n_skip << " completed, skipped";
  if (n_reuse) os << ", " << n_reuse << " copied from completed runs with the same config (--reuse)";
  os << "; " << opts.jobs << " at a time";
  if (opts.jobs > 1) {
    bool any_cuda = false;
    for (const std::size_t i : queue)
      any_cuda = any_cuda || plan.trials[i].resolved.at("train").at("device").get<std::string>().rfind("cuda", 0) == 0;
    const char* omp = std::getenv("OMP_NUM_THREADS");
    os << ", " << (omp != nullptr ? std::string(omp) + " (OMP_NUM_THREADS)"
                                  : std::to_string(std::max(1u, std::thread::hardware_concurrency() /
                                                                     static_cast<unsigned>(opts.jobs))))
       << " intra-op threads each";
    if (any_cuda) os << ", at most " << fixed(gpu_share(opts.jobs) * 100.0, 1) << " % of the GPU's memory each";
  }
  os << ")" << std::endl;
  for (const std::string& note : stale_build_notes(dir, plan, actions, opts.plugins_now)) os << note << "\n";

  // 4. Run: one child `ijepa train` per trial, at most opts.jobs at once, the cores and a CUDA card split between them.
  std::vector<std::string> parent_env;
  for (char** e = environ; *e != nullptr; ++e) parent_env.emplace_back(*e);
  struct Running {
    std::size_t i;
    pid_t pid;
    std::chrono::steady_clock::time_point t0;
    bool resume;
    std::string started;
  };
  std::vector<Running> running;
  std::vector<std::string> final_state(total, "");
  for (std::size_t i = 0; i < total; ++i) {
    if (actions[i].action != "skip") continue;
    final_state[i] = "completed";
    // A completed trial whose .proc.json says otherwise (its process outlived a killed sweep, or was stopped after
    // it had finished): the record follows the run directory, with what it said before.
    const TrialPaths tp(dir, plan.trials[i].trial.name);
    nlohmann::json proc;
    try {
      proc = load_json_file(tp.proc);
    } catch (const std::exception&) {
      continue;  // no record (or not one this can read): nothing to bring in line
    }
    if (proc.is_object() && proc.value("state", "") != "completed") {
      proc["recorded_state"] = proc.value("state", "");
      proc["state"] = "completed";
      proc.erase("error");
      proc["reconciled"] = utc_now() + ": status.json of the run says completed";
      try {
        write_file_atomic(tp.proc, proc.dump(2) + "\n");
      } catch (const std::exception&) {  // the run directory is what decides; the record is only a record
      }
    }
  }
  std::size_t finished = n_skip;
  bool stopping = false, killed = false;
  // SIGINT/SIGTERM recorded without SA_RESTART, so the supervising loop wakes at once.
  const proc::StopSignals signals(proc::StopSignals::Options{false, false});
  // Reused trials first: a copy of the source run directory (made beside it, then renamed into place), the log
  // saying so, and <name>.proc.json naming the source. Nothing trains. A stop signal ends them between two copies.
  for (const std::size_t i : reused) {
    if (proc::StopSignals::last() != 0) {  // Ctrl-C between two copies: the rest stay to do, as unstarted trials do
      stopping = true;
      os << "ijepa sweep: " << proc::signal_name(proc::StopSignals::last()) << " received: stopping" << std::endl;
      break;
    }
    const PlannedTrial& p = plan.trials[i];
    const TrialPaths tp(dir, p.trial.name);
    const fs::path& src = actions[i].source;
    try {
      copy_reused_run(src, tp, p.resolved);
      final_state[i] = "completed";
      os << "[" << ++finished << "/" << total << "] reused " << p.trial.name << ": a copy of " << src.string()
         << std::endl;
    } catch (const std::exception& e) {
      write_file_atomic(tp.proc, nlohmann::json({{"state", "failed"}, {"error", e.what()}, {"ended", utc_now()}})
                                     .dump(2) + "\n");
      final_state[i] = "failed";
      os << "[" << ++finished << "/" << total << "] FAILED " << p.trial.name << ": " << e.what() << std::endl;
    }
  }

  // <name>.proc.json is the sweep's note of a trial's process; one that cannot be written (a full disk) is said
  // and the sweep goes on: stopping would stop the other trials, and the run's status.json and log tell how it ends.
  auto record_proc = [&](const TrialPaths& tp, const nlohmann::json& j) {
    try {
      write_file_atomic(tp.proc, j.dump(2) + "\n");
    } catch (const std::exception& e) {
      os << "ijepa sweep: warning: " << e.what() << " (the sweep goes on; a rerun reads the trial's status.json)"
         << std::endl;
    }
  };

  auto launch = [&](std::size_t i) {
    const PlannedTrial& p = plan.trials[i];
    const TrialPaths tp(dir, p.trial.name);
    const bool resume = actions[i].action == "resume";
    std::error_code e2;
    if (actions[i].action == "rerun") {  // failed before: keep its log, start from scratch
      if (fs::exists(tp.log, e2)) fs::rename(tp.log, tp.old_log, e2);
      fs::remove_all(tp.run_dir, e2);
    }
    fs::remove(tp.proc, e2);
    if (!resume) remove_half_made(tp);  // earlier attempts' (`ijepa train` builds <run>.tmp-<pid> first)
    const std::string started = utc_now();
    // Absolute, canonical paths: inspect_trial recognises the live child by its run directory in /proc/PID/cmdline.
    std::vector<std::string> args{"ijepa", "train", fs::weakly_canonical(fs::absolute(tp.config)).string(), "--out",
                                  fs::weakly_canonical(fs::absolute(tp.run_dir)).string(), "--quiet"};
    if (resume) args.push_back("--resume");
    for (const auto& d : opts.plugin_dirs) {
      args.push_back("--plugin-dir");
      args.push_back(d);
    }
    if (opts.allow_insecure_plugins) args.push_back("--allow-insecure-plugins");
    const int log_fd = ::open(tp.log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (resume ? O_APPEND : O_TRUNC), 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
      const std::string why = std::strerror(errno);
      if (log_fd >= 0) ::close(log_fd);
      if (null_fd >= 0) ::close(null_fd);
      throw std::runtime_error(tp.log.string() + ": cannot open the trial's log: " + why);
    }
    if (resume) {
      const std::string note = "==== ijepa sweep: resuming trial " + p.trial.name + " at " + started + " ====\n";
      if (::write(log_fd, note.data(), note.size()) < 0) { /* the log is informational */ }
    }
    proc::ChildSpec child;
    child.exe = opts.exe.string();
    child.argv = args;
    child.stdin_fd = null_fd;
    child.stdout_fd = child.stderr_fd = log_fd;
    child.exec_failure = "ijepa sweep: cannot start the ijepa binary";
    // A sweep killed outright (SIGKILL) stops its trials as a Ctrl-C would: they checkpoint, a rerun resumes them.
    child.parent_death_signal = SIGTERM;
    const bool cuda = p.resolved.at("train").at("device").get<std::string>().rfind("cuda", 0) == 0;
    child.env = trial_environment(parent_env, opts.jobs, std::thread::hardware_concurrency(), cuda);
    pid_t pid = -1;
    std::string spawn_error;
    try {
      pid = proc::spawn(child);
    } catch (const std::exception& e) {
      spawn_error = e.what();
    }
    ::close(log_fd);
    ::close(null_fd);
    if (pid < 0) throw std::runtime_error("cannot start a trial process: " + spawn_error);
    record_proc(tp, {{"state", "running"}, {"pid", static_cast<long long>(pid)}, {"started", started},
                     {"resume", resume}});
    running.push_back({i, pid, std::chrono::steady_clock::now(), resume, started});
    os << (resume ? "resume " : "start  ") << p.trial.name << std::endl;
  };

  auto outcome_of = [&](const Running& r, int wstatus) {
    const TrialPaths tp(dir, plan.trials[r.i].trial.name);
    nlohmann::json status;
    try {
      status = load_json_file(tp.run_dir / "status.json");
    } catch (const std::exception&) {
      status = nlohmann::json::object();
    }
    const std::string st = status.is_object() ? status.value("state", "") : "";
    Outcome o;
    o.proc = {{"pid", static_cast<long long>(r.pid)}, {"started", r.started}, {"ended", utc_now()},
              {"resume", r.resume},
              {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - r.t0).count()}};
    if (WIFSIGNALED(wstatus)) {
      o.proc["signal"] = WTERMSIG(wstatus);
      o.proc["signal_name"] = proc::signal_name(WTERMSIG(wstatus));
    }
    if (st == "completed") {
      // The trainer wrote "completed" after the last step, checkpoint and evaluation: the trial is done, whatever
      // ended its process afterwards (a stop signal on its way out).
      o.state = "completed";
      if (WIFEXITED(wstatus)) o.proc["exit_code"] = WEXITSTATUS(wstatus);
    } else if (WIFEXITED(wstatus)) {
      const int code = WEXITSTATUS(wstatus);
      o.proc["exit_code"] = code;
      if (st == "interrupted" && code == 130) {  // 130: how `ijepa train` ends a run a signal stopped
        o.state = "interrupted";
        o.error = "interrupted (stopped by a signal)";
      } else if (code == 0) {
        o.state = "failed";
        o.error = "exited with code 0 but status.json says '" + st + "'";
      } else {
        o.state = "failed";
        o.error = last_line(tp.log);
        if (o.error.empty()) o.error = "exited with code " + std::to_string(code);
      }
    } else if (WIFSIGNALED(wstatus)) {
      const int sig = WTERMSIG(wstatus);
      if (stopping && (sig == SIGINT || sig == SIGTERM || sig == SIGKILL)) {
        o.state = "interrupted";
        o.error = "stopped with the sweep (" + proc::signal_name(sig) + ")";
      } else {
        o.state = "failed";
        o.error = "killed by signal " + proc::signal_name(sig);
        std::ofstream(tp.log, std::ios::app) << "ijepa sweep: trial " << plan.trials[r.i].trial.name << " "
                                              << o.error << "\n";
      }
    } else {
      o.state = "failed";
      o.error = "ended with wait status " + std::to_string(wstatus);
    }
    o.proc["state"] = o.state;
    if (!o.error.empty()) o.proc["error"] = o.error;
    // A child killed by a signal left its status.json "running": record how it ended there too, so the run
    // directory tells the truth to every reader (the trainer's own "failed"/"interrupted" is never replaced).
    if (st == "running" && o.state != "completed") {
      status["state"] = o.state;
      status["error"] = o.error;
      status["ended"] = utc_now();
      try {
        write_file_atomic(tp.run_dir / "status.json", status.dump(2) + "\n");
      } catch (const std::exception&) {
        // proc.json already says it; inspect_trial reads both
      }
    }
    return o;
  };

  auto refresh_summary = [&]() {
    try {
      write_sweep_summary(dir);
    } catch (const std::exception& e) {
      os << "warning: summary not written: " << e.what() << std::endl;
    }
  };

  while (true) {
    // Reap finished children.
    for (std::size_t k = 0; k < running.size();) {
      int wstatus = 0;
      const pid_t w = ::waitpid(running[k].pid, &wstatus, WNOHANG);
      if (w != running[k].pid) {
        ++k;
        continue;
      }
      const Running r = running[k];
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      const Outcome o = outcome_of(r, wstatus);
      const TrialPaths tp(dir, plan.trials[r.i].trial.name);
      record_proc(tp, o.proc);
      final_state[r.i] = o.state;
      ++finished;
      os << "[" << finished << "/" << total << "] " << (o.state == "completed" ? "done   " : o.state == "failed" ? "FAILED " : "stopped ")
         << plan.trials[r.i].trial.name << ": " << o.state << " after " << fixed(o.proc["seconds"].get<double>(), 1)
         << " s";
      if (o.state == "completed") {
        const nlohmann::json st = trial_summary(dir, sweep_obj["trials"][r.i]);
        if (st["final_loss"].is_number()) os << ", final loss " << st["final_loss"].get<double>();
      } else {
        os << ": " << o.error << " (log: " << tp.log.string() << ")";
      }
      os << std::endl;
      refresh_summary();
    }
    // Signals: stop scheduling, forward a stop signal once; a second signal kills the children.
    if (proc::StopSignals::last() != 0 && !stopping) {
      stopping = true;
      // The other stop signal than the one received: a child that got the terminal's SIGINT itself is not hit
      // by the same signal twice (the trainer takes a second identical signal as "exit now").
      const int fwd = proc::StopSignals::last() == SIGINT ? SIGTERM : SIGINT;
      os << "ijepa sweep: " << proc::signal_name(proc::StopSignals::last()) << " received: stopping " << running.size()
         << " running trial(s) at their next step (they checkpoint); nothing new starts. Again to kill them."
         << std::endl;
      for (const auto& r : running) ::kill(r.pid, fwd);
    }
    if (stopping && proc::StopSignals::count() >= 2 && !killed) {
      killed = true;
      for (const auto& r : running) ::kill(r.pid, SIGKILL);
    }
    if (!stopping) {
      while (static_cast<int>(running.size()) < opts.jobs && !queue.empty()) {
        const std::size_t i = queue.front();
        queue.pop_front();
        try {
          launch(i);
        } catch (const std::exception& e) {
          const TrialPaths tp(dir, plan.trials[i].trial.name);
          write_file_atomic(tp.proc, nlohmann::json({{"state", "failed"}, {"error", e.what()}, {"ended", utc_now()}})
                                             .dump(2) + "\n");
          final_state[i] = "failed";
          ++finished;
          os << "[" << finished << "/" << total << "] FAILED " << plan.trials[i].trial.name << ": " << e.what()
             << std::endl;
        }
      }
    }
    if (running.empty() && (queue.empty() || stopping)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const SweepSummaryText text = write_sweep_summary(dir);
  std::size_t n_completed = 0;
  for (const auto& s : final_state) n_completed += s == "completed" ? 1 : 0;
  os << "\n" << text.md << "\nsummary: " << (dir / "summary.md").string()
     << ", summary.csv, summary_grouped.csv, summary.jsonl\n";
  if (stopping) {
    os << "ijepa sweep: stopped; " << n_completed << "/" << total
       << " trials completed (run the same command again to resume)" << std::endl;
    return 130;
  }
  os << "ijepa sweep: " << n_completed << "/" << total << " trials completed" << std::endl;
  if (n_completed == total) return 0;
  // The failure on stderr too (stdout may be a log or a pipe): which trials, and where their logs are.
  std::string failed;
  for (std::size_t i = 0; i < final_state.size(); ++i) {
    if (final_state[i] != "completed") failed += (failed.empty() ? "" : ", ") + plan.trials[i].trial.name;
  }
  std::cerr << "ijepa sweep: error: " << total - n_completed << " of " << total << " trials did not complete (" << failed
            << "); their logs are " << (dir / "trials").string() << "/NAME.log" << std::endl;
  return 1;
}

}  // namespace ijepa::host
