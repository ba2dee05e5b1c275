#pragma once
// A run directory: config.resolved.json, overrides.json, env.json, status.json, metrics.jsonl, log.txt, checkpoints/.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/host/io/tfevents.hpp"

namespace ijepa::host {

class RunDir {
 public:
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path checkpoints() const { return root_ / "checkpoints"; }

  // create_fresh(files): builds the directory as <root>.tmp-<pid> with the given files, then renames it into
  // place, so an interrupted start leaves no half-written run directory. Throws naming the path.
  static RunDir create_fresh(const std::filesystem::path& root, const std::map<std::string, std::string>& files);

  // status.json, written atomically. state: running | completed | failed | interrupted.
  void write_status(const nlohmann::json& status) const;
  nlohmann::json read_status() const;  // {} if absent or unreadable

  // Appends one JSON line to metrics.jsonl (or another .jsonl) and flushes it.
  void append_jsonl(const std::string& file, const nlohmann::json& record) const;
  // Drops metrics.jsonl records whose "step" is greater than `step` (resume after a crash).
  void truncate_jsonl_after(const std::string& file, std::int64_t step) const;

  // TensorBoard: scalars() appends one event (and flushes) to an event file in the run directory, opened at the
  // first call (io/tfevents.hpp); copies of this RunDir share it. enable_events(false) writes none; a purge_step
  // >= 0 (a resume) makes TensorBoard drop what earlier files recorded from that step on.
  void enable_events(bool on, std::int64_t purge_step = -1);
  void scalars(std::int64_t step, const io::Scalars& values) const;

 private:
  struct Events {
    bool on = true;
    std::int64_t purge_step = -1;
    std::unique_ptr<io::EventWriter> writer;
  };
  std::filesystem::path root_;
  std::shared_ptr<Events> events_ = std::make_shared<Events>();
};

// TensorBoard tags of a metrics.jsonl record: every number but step and epoch; "health.x" -> "health/x", any other
// key -> "train/<key>".
io::Scalars train_scalars(const nlohmann::json& record);
// Of an eval.jsonl record: "eval/<label>/<metric>", "eval/<label>/random_init/<metric>", "eval/<label>/gain/<metric>"
// (sizes, seconds and the step are left out).
io::Scalars eval_scalars(const nlohmann::json& record, const std::string& label);

// This machine's host name (gethostname; "" when it fails), as status.json's "host" and the partial mark name it.
std::string host_name();

// A directory this workbench builds beside its final name (<root>.tmp-<pid>, <trial>.tmp-reuse-<pid>) holds this
// marker file until it is renamed into place: only directories with it are ever removed as leftovers, never a
// user's folder or a run whose name merely looks like one.
inline constexpr const char* kPartialMarker = ".ijepa-partial";
// The marker's text for a folder being built by process `pid` on this host. A leftover is only a folder whose
// marker names the pid of its name and this host (one that another machine builds on a shared file system is not
// this machine's to judge).
std::string partial_marker_text(long pid);
// make_partial_dir(dir): creates dir (not there before) with the marker in it; throws naming the path.
void make_partial_dir(const std::filesystem::path& dir);
// clear_own_partial_dir(dir): removes dir when it is a partial folder of this pid on this host (an earlier process
// with the same pid left it); throws when something else is there. Nothing there: nothing to do.
void clear_own_partial_dir(const std::filesystem::path& dir);
// leftover_partial_dir(entry, base, tag) -> whether `entry` is exactly <base>.tmp-<tag><pid> (tag "" or "reuse-"),
// a directory holding that pid's marker of this host, whose process is gone.
bool leftover_partial_dir(const std::filesystem::path& entry, const std::string& base, const std::string& tag);
// remove_stale_temp_dirs(root): removes the <root>.tmp-<pid> directories a killed start left beside root (those
// leftover_partial_dir names). create_fresh calls it. Returns how many it removed.
std::size_t remove_stale_temp_dirs(const std::filesystem::path& root);

// Checks that `dir`'s parent can be created and written; throws a one-line error naming the path otherwise.
void check_writable_parent(const std::filesystem::path& dir);

// ISO-8601 UTC timestamp, e.g. "2026-11-26T07:03:04Z".
std::string utc_now();

}  // namespace ijepa::host
