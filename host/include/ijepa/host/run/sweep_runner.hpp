#pragma once
// `ijepa sweep`: plans every trial of an experiment's "sweep" (resolving each config before anything is written),
// decides per trial whether to run, resume, re-run or skip it, and runs each as a child `ijepa train` process.
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
};

// plan_sweep(layered, sets, registry, source): expands layered["sweep"] and resolves every trial (base files ->
// file -> overrides -> sweep point -> --set -> plugin defaults). Throws one line naming the file and, for a trial
// whose config does not resolve, the trial. Writes nothing.
SweepPlan plan_sweep(const nlohmann::json& layered, const std::vector<std::string>& sets, const Registry& registry,
                     const std::string& source);

// The contents of sweep.json for a plan.
nlohmann::json sweep_json(const SweepPlan& plan, const std::vector<std::string>& plugin_dirs);

// What a (re-)run does with a trial, decided from its files before anything starts.
struct TrialAction {
  std::string action;  // run | resume (interrupted, or failed with a checkpoint) | rerun (failed, from step 0) |
                       // skip (completed, same config) | error
  std::string reason;  // for error: one line naming the trial and the first differing key
};
// decide_trials(dir, plan, restart_failed) -> one action per trial; reads only. A missing DIR means every trial runs.
// A failed trial (an OOM kill, a crash) resumes from its last checkpoint when it has one and the same config, unless
// restart_failed (`ijepa sweep --restart-failed`): then it starts again from step 0.
std::vector<TrialAction> decide_trials(const std::filesystem::path& dir, const SweepPlan& plan,
                                       bool restart_failed = false);

struct SweepRunOptions {
  std::filesystem::path out;                 // the sweep directory
  int jobs = 1;                              // trials run in parallel
  std::vector<std::string> plugin_dirs;      // passed on to every child (--plugin-dir)
  bool allow_insecure_plugins = false;       // passed on (--allow-insecure-plugins)
  std::filesystem::path exe = "/proc/self/exe";  // the `ijepa` binary of the children
  bool restart_failed = false;               // failed trials start from step 0 instead of their checkpoint
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

// run_sweep(plan, opts, os) -> exit code: 0 when every trial is completed, 1 when one failed or did not finish,
// 130 when stopped by SIGINT/SIGTERM (forwarded to the running children; nothing new starts). Throws (one line,
// before any child starts) for an incompatible or foreign directory, a running trial, or a changed config.
int run_sweep(const SweepPlan& plan, const SweepRunOptions& opts, std::ostream& os);

}  // namespace ijepa::host
