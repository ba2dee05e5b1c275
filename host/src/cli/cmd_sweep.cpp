// `ijepa sweep FILE [--out DIR] [--dry-run] [--jobs N] [--reuse DIR]... [--set k=v]...` and `ijepa report DIR`
#include <iostream>
#include <map>
#include <string>

#include "cli/commands.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/io/files.hpp"
#include "ijepa/host/run/sweep_dir.hpp"
#include "ijepa/host/run/sweep_report.hpp"
#include "ijepa/host/run/sweep_runner.hpp"

namespace fs = std::filesystem;

namespace ijepa::host::cli {

namespace {

// The plugins loaded now: each file's SHA-256 and which plugin provides each (kind, type) (stale_build_notes).
PluginBuilds plugins_now(const PluginHost& host) {
  PluginBuilds out;
  for (const auto& p : host.loaded()) out.sha256[p.plugin_id] = p.sha256;
  for (const auto& e : host.registry().list()) {
    out.provider[std::string(kind_name(e.kind)) + "/" + e.type] = e.origin.plugin_id;
  }
  return out;
}

}  // namespace

int cmd_sweep(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--set", "--out", "--jobs", "--reuse"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--dry-run", "--restart-failed"});
  Args args(argv, valued, flags);
  if (args.positionals().size() != 1) {
    throw UsageError("usage: ijepa sweep FILE [--out DIR] [--dry-run] [--jobs N] [--restart-failed] [--reuse DIR]... "
                     "[--set a.b=value]...");
  }
  const long long jobs = args.get_int("--jobs", 1);
  if (jobs < 1 || jobs > 1024) throw UsageError("--jobs expects 1..1024, got " + std::to_string(jobs));
  const fs::path file = args.positionals()[0];
  KeyOrigins origins;
  const nlohmann::json layered = load_layered(file, &origins);
  PluginHost host;
  load_plugins(host, args);
  const SweepPlan plan = plan_sweep(layered, args.all("--set"), host.registry(), file.string(), origins);
  const fs::path out = args.get("--out") ? fs::path(*args.get("--out")) : fs::path("runs") / plan.name / "sweep";
  std::vector<fs::path> reuse_sources;
  for (const auto& r : args.all("--reuse")) reuse_sources.emplace_back(r);

  if (args.flag("--dry-run")) {
    // Read-only: what a run would do with an existing directory, too, and which trials --reuse would copy.
    std::vector<TrialAction> actions;
    std::error_code ec;
    const std::vector<ReusableRun> reuse = reusable_runs(reuse_sources);
    check_sweep_out(out, plan);  // as the run would: a file, a run directory, another sweep file's directory
    const bool existing = fs::exists(out / "sweep.json", ec);
    if (existing || !reuse.empty()) actions = decide_trials(out, plan, args.flag("--restart-failed"), reuse);
    std::cout << "ijepa sweep " << plan.name << ": " << plan.trials.size() << " trials (" << plan.spec.mode
              << ", name template \"" << plan.name_template << "\") -> " << out.string() << "\n";
    print_trial_table(std::cout, plan, actions);
    for (const auto& f : foreign_trial_dirs(out, plan)) {
      std::cout << "note: " << f.string() << " is not a trial of this sweep (a run leaves it as it is)\n";
    }
    for (const std::string& note : stale_build_notes(out, plan, actions, plugins_now(host))) std::cout << note << "\n";
    for (const auto& a : actions) {
      if (a.action == "error") {
        std::cerr << "ijepa sweep: error: " << a.reason << "\n";
        return 1;
      }
    }
    std::cout << "dry run: nothing written" << std::endl;
    return 0;
  }
  SweepRunOptions opts;
  opts.out = out;
  opts.jobs = static_cast<int>(jobs);
  opts.plugin_dirs = args.all("--plugin-dir");
  opts.allow_insecure_plugins = args.flag("--allow-insecure-plugins");
  opts.restart_failed = args.flag("--restart-failed");
  opts.reuse = reuse_sources;
  opts.plugins_now = plugins_now(host);
  return run_sweep(plan, opts, std::cout);
}

int cmd_report(const Argv& argv) {
  Args args(argv, {"--reference", "--best-by", "--order"}, {"--defaults"});
  if (args.positionals().size() != 1) {
    throw UsageError("usage: ijepa report SWEEP_DIR [--reference GROUP] [--best-by METRIC] [--order 'A > B']... "
                     "[--defaults]");
  }
  const fs::path dir = args.positionals()[0];
  ReportOptions opts;
  opts.reference = args.get("--reference").value_or("");
  opts.best_by = args.get("--best-by").value_or("");
  opts.orderings = args.all("--order");
  const bool defaults = args.flag("--defaults");
  if (defaults && !opts.empty()) throw UsageError("--defaults: drops the saved options; give it alone");
  std::error_code ec;
  const fs::path saved = dir / kSavedReportOptions;
  std::string note;
  if (defaults) {
    (void)read_sweep_json(dir);  // a sweep directory, before anything is removed
    if (fs::remove(saved, ec)) note = "dropped the options saved in " + saved.string() + "\n";
  } else if (const ReportOptions kept = opts.empty() ? saved_report_options(dir) : ReportOptions{}; !kept.empty()) {
    note = "with the options saved in " + saved.string() + " by the last ijepa report: " + kept.to_json().dump() +
           " (--defaults drops them)\n";
  }
  const SweepSummaryText text = write_sweep_summary(dir, defaults ? ReportOptions{} : opts);
  // Kept once they have given a summary (a bad group or metric is refused above, with nothing written).
  if (!opts.empty()) write_file_atomic(saved, opts.to_json().dump(2) + "\n");
  std::cout << text.md << "\n" << note << "written: " << (dir / "summary.md").string()
            << ", summary.csv, summary_grouped.csv, summary.jsonl" << (opts.empty() ? "" : "; options kept in " +
            saved.string()) << std::endl;
  return 0;
}

}  // namespace ijepa::host::cli
