#pragma once
// A sweep's summary tables, made from its trial directories only (so `ijepa report` works while a sweep runs):
// summary.jsonl (one record per trial), summary.md (trial table + table grouped over seeds), summary.csv (trial
// table) and summary_grouped.csv (the grouped table). Output is a pure function of the files it reads.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ijepa::host {

// trial_summary(sweep_dir, trial) -> the summary.jsonl record of one sweep.json trial entry:
// {"index","name","values","seed","state","step","total_steps","final_loss","metrics":{"<evaluator>.<metric>",
//  "<evaluator>.random_init.<metric>"},"test_n":{"<evaluator>": n},"bootstrap":{"<evaluator>.top1": [lo, hi]},
//  "seconds","images_per_s","error"}; null where unknown.
nlohmann::json trial_summary(const std::filesystem::path& sweep_dir, const nlohmann::json& trial);

struct SweepSummaryText {
  std::string jsonl, md, csv, grouped_csv;
};

// `ijepa report` options: --reference (a group of the grouped table: its label "lr=0.1", a KEY=VALUE[,KEY=VALUE]
// selection of it, or one of its trials' names) adds paired differences against it; --best-by METRIC (e.g.
// knn.gain.top1, linear_probe.top1, final_loss) adds the best group and trial and whether the runner-up is told apart;
// --order "A > B" (repeatable; A, B as for --reference) judges each claim on the paired differences of every top-1
// accuracy: holds / fails (the other way round) / undecided, and overall (mixed where the metrics disagree), also
// after Holm's correction over every test of the section (paired t tests, family-wise 5 %).
struct ReportOptions {
  std::string reference, best_by;
  std::vector<std::string> orderings;
  // Where each came from, for error messages: the command line's options, or the sweep file's "report" block.
  std::string reference_from = "--reference", order_from = "--order", best_by_from = "--best-by";
  // best_by from the sweep file: a metric no trial has is said in the section, not an error (a sweep writes its
  // summary before any trial has evaluated, and a long sweep must not fail over its summary).
  bool best_by_lenient = false;
  bool empty() const;                 // no reference, best_by or ordering given
  nlohmann::json to_json() const;     // {reference, best_by, orderings}: those given
};

// The options the last `ijepa report` was given, kept in SWEEP_DIR/report.json: a summary written without options
// of its own (`ijepa sweep` refreshing it, `ijepa report DIR` alone) uses them over the sweep file's block.
inline constexpr const char* kSavedReportOptions = "report.json";
// saved_report_options(dir) -> report.json's options (none when absent); ConfigFileError naming it when malformed.
ReportOptions saved_report_options(const std::filesystem::path& dir);

// The sweep file's "report" block, as sweep.json keeps it ("sweep"."report": {"reference", "best_by", "orderings"}):
// the options `ijepa sweep` and `ijepa report` use where the command line gives none (a command-line option replaces
// the block's, --order all of its orderings). `origin` names the file in error messages.
ReportOptions file_report_options(const nlohmann::json& sweep_json, const std::string& origin);

// check_sweep_report(sweep_json, origin): the report block's groups (reference, both sides of every ordering) are
// groups of the planned trials; ConfigError naming origin and the block's key otherwise. Run before any trial, so
// a typo fails the sweep at once, not after hours of training. Metrics are checked when the report is written.
void check_sweep_report(const nlohmann::json& sweep_json, const std::string& origin);

// The four files' contents for sweep.json and the records of its trials (in sweep.json order).
SweepSummaryText render_sweep_summary(const nlohmann::json& sweep, const std::vector<nlohmann::json>& records,
                                      const ReportOptions& opts = {});

// write_sweep_summary(dir) -> reads DIR/sweep.json (format checked) and every trial, writes the summary files
// atomically and returns their contents.
SweepSummaryText write_sweep_summary(const std::filesystem::path& dir, const ReportOptions& opts = {});

// Mean and sample standard deviation (n - 1); std is NaN for fewer than two values.
struct MeanStd {
  double mean = 0.0, std = 0.0;
  std::size_t n = 0;
};
MeanStd mean_std(const std::vector<double>& xs);

}  // namespace ijepa::host
