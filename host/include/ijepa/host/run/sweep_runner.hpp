#pragma once
// `ijepa sweep`: plans every trial of an experiment's "sweep" (resolving each config before anything is written),
// decides per trial whether to run, resume, re-run or skip it, and runs each as a child `ijepa train` process.
#include <filesystem>
#include <ostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/sweep.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

struct PlannedTrial {
  SweepTrial trial;
  nlohmann::json resolved;   // the trial's fully resolved config (no "sweep")
  std::string config_sha;    // config_hash(resolved)
};

struct SweepPlan {
  std::string name;                 // the experiment's name
  std::string source;               // the experiment file, as given
  nlohmann::json sweep;             // the "sweep" object as layered
  SweepSpec spec;
  std::string name_template;        // the effective template
  std::vector<std::string> sets;    // --set, applied to every trial after its sweep point
  std::vector<PlannedTrial> trials;
  // The registry the trials were resolved with (it must outlive the plan): a trial's recorded config written before
  // a plugin or train key existed counts that key as its default when compared (fill_added_defaults).
  const Registry* registry = nullptr;
};

// plan_sweep(layered, sets, registry, source, origins): expands layered["sweep"] and resolves every trial (base files
// -> file -> overrides -> sweep point -> --set -> plugin defaults). Throws one line naming the file and, for a trial
// whose config does not resolve, the trial; a value error also names the base file or "overrides" entry that set the
// key (origins: from load_layered). Writes nothing.
SweepPlan plan_sweep(const nlohmann::json& layered, const std::vector<std::string>& sets, const Registry& registry,
                     const std::string& source, const KeyOrigins& origins = KeyOrigins());

// The contents of sweep.json for a plan.
nlohmann::json sweep_json(const SweepPlan& plan, const std::vector<std::string>& plugin_dirs);

// What a (re-)run does with a trial, decided from its files before anything starts.
struct TrialAction {
  std::string action;  // run | resume (interrupted, or failed with a checkpoint) | rerun (failed, from step 0) |
                       // skip (completed, same config) | reuse (a --reuse run with the same config is copied
                       // in; nothing trains) | error
  std::string reason;  // for error: one line naming the trial and the first differing key
  std::filesystem::path source;  // for reuse: the completed run directory that is copied
};

// A completed run that `ijepa sweep --reuse` may copy in place of training a trial: its directory and the
// config.resolved.json it recorded.
struct ReusableRun {
  std::filesystem::path dir;
  nlohmann::json config;
};

// reusable_runs(sources) -> the completed runs (status.json "completed") under each --reuse source, in a fixed
// order, each by its real (canonical) directory: a source is a run directory (it has config.resolved.json), a sweep
// directory (its trials/*), or a directory holding those up to two levels down (runs/: runs/<name>/<time> of
// `ijepa train`, runs/<name>/sweep of `ijepa sweep`). Throws ConfigFileError, one line naming the source, for one
// that does not exist, is not a directory, cannot be read, or holds no completed run.
std::vector<ReusableRun> reusable_runs(const std::vector<std::filesystem::path>& sources);
// check_sweep_out(dir, plan): the sweep directory, read only: new, empty, or a sweep directory of this workbench made
// from the same sweep file (sweep.json records its absolute real path: the same file under another path or working
// directory is the same sweep; where the recorded path names no file from here — an older relative record, a tree
// moved, a renamed file — the same file name or experiment name is). ConfigFileError otherwise, one line naming DIR:
// a file, a non-empty directory without sweep.json (a run, say), another format, or another sweep file's directory
// (its trials would drop out of the summaries and sweep.json would be replaced).
void check_sweep_out(const std::filesystem::path& dir, const SweepPlan& plan);
// foreign_trial_dirs(dir, plan): the directories under DIR/trials that are not a trial of this plan (a trial dropped
// from the sweep file, a hand-made folder), sorted; a sweep leaves them as they are and says so.
std::vector<std::filesystem::path> foreign_trial_dirs(const std::filesystem::path& dir, const SweepPlan& plan);
// decide_trials(dir, plan, restart_failed, reuse) -> one action per trial; reads only. A missing DIR means every
// trial runs. A failed trial (an OOM kill, a crash) resumes from its last checkpoint when it has one and the same
// config, unless restart_failed (`ijepa sweep --restart-failed`): then it starts again from step 0. A trial that
// would run or run again from step 0 is a "reuse" of the first run in `reuse` whose recorded config differs from
// the trial's only in the experiment's name and at incidental keys (first_material_difference with finished = true:
// the same train.max_steps); never the trial's own directory or a run that holds the sweep directory.
std::vector<TrialAction> decide_trials(const std::filesystem::path& dir, const SweepPlan& plan,
                                       bool restart_failed = false, const std::vector<ReusableRun>& reuse = {});

// The plugins loaded now, for stale_build_notes.
struct PluginBuilds {
  std::map<std::string, std::string> sha256;    // plugin id -> SHA-256 of its file
  std::map<std::string, std::string> provider;  // "kind/type" -> the plugin id that registered it
};

// stale_build_notes(dir, plan, actions, plugins_now) -> one line per plugin whose file changed since completed trials
// that are skipped were trained ("note: 2 completed trials (a_s0, a_s1) were trained with another build of plugin
// org.x (sha256 0329ff52... then, 3a2c2fae... now); they are kept as they are: ..."), read from each trial's
// env.json (its last session's plugins), among the plugins that provide the trial's components and evaluators (a
// rebuilt plugin the trial does not use is no note). A rebuilt loss (a fixed bug) would otherwise leave the sweep's
// results from the old build with no word.
std::vector<std::string> stale_build_notes(const std::filesystem::path& dir, const SweepPlan& plan,
                                           const std::vector<TrialAction>& actions,
                                           const PluginBuilds& plugins_now);

struct SweepRunOptions {
  std::filesystem::path out;                 // the sweep directory
  int jobs = 1;                              // trials run in parallel
  std::vector<std::string> plugin_dirs;      // passed on to every child (--plugin-dir)
  bool allow_insecure_plugins = false;       // passed on (--allow-insecure-plugins)
  std::filesystem::path exe = "/proc/self/exe";  // the `ijepa` binary of the children
  bool restart_failed = false;               // failed trials start from step 0 instead of their checkpoint
  std::vector<std::filesystem::path> reuse;  // --reuse: completed runs a trial with the same config copies
  PluginBuilds plugins_now;                  // the plugins loaded now (stale_build_notes)
};

// trial_environment(parent, jobs, hw_threads, cuda) -> the environment of a trial process when `jobs` trials share
// one machine: every KEY=VALUE of `parent`, and when jobs > 1
//  - OMP_NUM_THREADS = max(1, hw_threads / jobs): torch's intra-op pool of each child (a trial's own
//    train.threads > 0 still wins), unless `parent` sets OMP_NUM_THREADS;
//  - for CUDA trials, per_process_memory_fraction:F appended to PYTORCH_CUDA_ALLOC_CONF, F = gpu_share(jobs) (each
//    child's caching allocator may hold F of the card; an allocation beyond it is an out-of-memory error in that
//    trial alone), unless `parent` already sets a fraction there;
//  - IJEPA_SWEEP_JOBS = jobs (the trainer names it in its out-of-memory error).
std::vector<std::string> trial_environment(const std::vector<std::string>& parent, int jobs, unsigned hw_threads,
                                           bool cuda);
// 0.95 / jobs, rounded down to 3 decimals (the rest of the card is for the N CUDA contexts, ~0.5 GiB each).
double gpu_share(int jobs);

// Prints the trial table (index, name, swept values, seed, and the action when `actions` is not empty).
void print_trial_table(std::ostream& os, const SweepPlan& plan, const std::vector<TrialAction>& actions);

// run_sweep(plan, opts, os) -> exit code: 0 when every trial is completed (reused ones included: each is a copy of
// its source run directory in trials/<name>, its <name>.proc.json naming the source in "reused_from"), 1 when one
// failed or did not finish,
// 130 when stopped by SIGINT/SIGTERM (forwarded to the running children; nothing new starts). Throws (one line,
// before any child starts) for an incompatible or foreign directory, a running trial, or a changed config.
int run_sweep(const SweepPlan& plan, const SweepRunOptions& opts, std::ostream& os);

}  // namespace ijepa::host
