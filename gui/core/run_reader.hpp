#pragma once
// Reading run and sweep directories while they are written: metrics.jsonl / eval.jsonl tailed incrementally
// (a partial last line waits for its newline; a file that shrank, as on resume, is read again from the start),
// status.json and config.resolved.json re-read when they change. Never throws for what it finds on disk: problems
// are collected as one-line messages for the panel.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ijepa::gui {

struct Series {
  std::vector<double> x;  // step
  std::vector<double> y;
};

struct RunData {
  std::filesystem::path dir;
  std::string name;                       // the directory name
  std::string state = "unknown";          // status_state(status.json): running, completed, failed, stopped ...
  nlohmann::json status;                  // last good status.json (null before one was read)
  nlohmann::json config;                  // config.resolved.json (null when missing)
  std::map<std::string, Series> metrics;  // metrics.jsonl numeric keys; "val/<key>" for non-train splits
  std::map<std::string, Series> evals;    // eval.jsonl: "<evaluator> <metric> #<i>" and "... random-init"
  std::int64_t metric_lines = 0, eval_lines = 0;
  std::vector<std::string> problems;      // "metrics.jsonl line 7: not JSON (skipped)", ...
};

class RunReader {
 public:
  explicit RunReader(std::filesystem::path dir);
  // poll() -> true when anything new was read. Cheap when nothing changed (file sizes and times compared).
  bool poll();
  const RunData& data() const { return data_; }

 private:
  struct Tail {
    std::uintmax_t offset = 0;
    std::string partial;
    std::int64_t line = 0;
  };
  bool tail(const std::string& file, Tail& t, bool metrics);
  void add_metrics(const nlohmann::json& j, std::int64_t line);
  void add_eval(const nlohmann::json& j, std::int64_t line);
  bool reread_json(const std::string& file, nlohmann::json& into, std::filesystem::file_time_type& stamp,
                   std::uintmax_t& size);
  void problem(std::string msg);

  std::string host_;
  RunData data_;
  Tail metrics_tail_, eval_tail_;
  std::filesystem::file_time_type status_time_{}, config_time_{};
  std::uintmax_t status_size_ = 0, config_size_ = 0;
};

// status_state(status, this_host) -> status.json's "state"; "unknown" without one. A "running" status whose
// writer is gone reads "stopped (pid N ended without recording it)": a run killed outright (a second Ctrl-C,
// SIGKILL, the OOM killer) cannot write its status, so its file still says running. The writer is judged gone only
// when status names this host ("host") and its "pid" is no live process running ijepa; a run written on another
// machine (a shared file system) or before status.json named its host is taken at its word.
std::string status_state(const nlohmann::json& status, const std::string& this_host);
// This machine's host name, as the trainer records it.
std::string local_host_name();

enum class DirKind { run, sweep, other, missing };
// classify(dir): run (has config.resolved.json), sweep (has sweep.json), other directory, or missing.
DirKind classify(const std::filesystem::path& dir);

struct RunEntry {
  std::filesystem::path dir;
  std::string name;     // relative to the browsed root ("t6/trials/t6_block_s0")
  DirKind kind = DirKind::other;
  std::string state;    // runs: status_state(status.json), or "not started" for a sweep trial without a directory
};
// list_runs(root, depth) -> root itself when it is a run; a sweep's trials (sweep.json order of trials/*.json, then
// any other trial directory); for another directory, the runs and sweeps found up to `depth` levels below it
// (sorted by name). Unreadable entries are skipped.
std::vector<RunEntry> list_runs(const std::filesystem::path& root, int depth = 2);

// read_jsonl(file, problems) -> the objects of a JSON-lines file (bad lines reported and skipped; a missing file
// gives {} and a problem).
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& file, std::vector<std::string>* problems);

}  // namespace ijepa::gui
