#include "ijepa/host/run/sweep_dir.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "ijepa/host/config/json_file.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

// {} when the file is absent; also when it cannot be read as a JSON object, then with *unreadable set (the files are
// replaced atomically, so that is damage, not a write in progress).
nlohmann::json read_json_or_empty(const fs::path& p, bool* unreadable = nullptr) {
  std::ifstream in(p);
  if (!in) return nlohmann::json::object();
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (j.is_object()) return j;
  } catch (const std::exception&) {
  }
  if (unreadable != nullptr) *unreadable = true;
  return nlohmann::json::object();
}

}  // namespace

nlohmann::json read_sweep_json(const fs::path& dir) {
  const fs::path p = dir / "sweep.json";
  std::error_code ec;
  if (!fs::exists(p, ec)) throw ConfigFileError(p.string() + ": not found (" + dir.string() + " is not a sweep directory)");
  nlohmann::json j = load_json_file(p);
  const nlohmann::json format = j.is_object() && j.contains("format") ? j["format"] : nlohmann::json();
  const nlohmann::json version = j.is_object() && j.contains("version") ? j["version"] : nlohmann::json();
  if (format != kSweepFormat || !version.is_number_integer() || version.get<int>() != kSweepVersion) {
    throw ConfigFileError(p.string() + ": format " + format.dump() + " version " + version.dump() +
                          " is not \"" + kSweepFormat + "\" version " + std::to_string(kSweepVersion) +
                          " (written by an incompatible workbench; left unchanged, use another --out)");
  }
  if (!j.contains("trials") || !j["trials"].is_array()) throw ConfigFileError(p.string() + ": no \"trials\" list");
  for (const auto& t : j["trials"]) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
      throw ConfigFileError(p.string() + ": a trial without a \"name\"");
    }
  }
  return j;
}

TrialPaths::TrialPaths(const fs::path& sweep_dir, const std::string& name)
    : config(sweep_dir / "trials" / (name + ".json")),
      run_dir(sweep_dir / "trials" / name),
      log(sweep_dir / "trials" / (name + ".log")),
      old_log(sweep_dir / "trials" / (name + ".log.1")),
      proc(sweep_dir / "trials" / (name + ".proc.json")) {}

std::string last_line(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string line, last;
  while (std::getline(in, line)) {
    // Progress output may use '\r'; keep the text after the last one.
    if (auto cr = line.find_last_of('\r'); cr != std::string::npos) {
      line = cr + 1 < line.size() ? line.substr(cr + 1) : line.substr(0, cr);
    }
    const auto b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r");
    last = line.substr(b, e - b + 1);
  }
  return last;
}

TrialState inspect_trial(const fs::path& sweep_dir, const std::string& name) {
  const TrialPaths p(sweep_dir, name);
  TrialState t;
  std::error_code ec;
  bool status_unreadable = false;
  t.run_dir = fs::is_directory(p.run_dir, ec);
  t.proc = read_json_or_empty(p.proc);
  const std::string proc_state = t.proc.value("state", "");
  const long proc_pid = t.proc.contains("pid") && t.proc["pid"].is_number_integer() ? t.proc["pid"].get<long>() : 0;
  if (t.run_dir) {
    t.status = read_json_or_empty(p.run_dir / "status.json", &status_unreadable);
    t.has_checkpoint = fs::exists(p.run_dir / "checkpoints" / "LATEST", ec);
    if (auto holder = lock_holder(p.run_dir / ".lock")) {
      t.state = "running";
      t.pid = *holder;
      return t;
    }
    // Where /proc/locks names another device than stat() (overlay filesystems): the pid status.json records.
    const long spid = t.status.contains("pid") && t.status["pid"].is_number_integer() ? t.status["pid"].get<long>() : 0;
    if (t.status.value("state", "") == "running" && process_alive(spid, " train ")) {
      t.state = "running";
      t.pid = spid;
      return t;
    }
  }
  if (proc_state == "running" && process_alive(proc_pid, fs::weakly_canonical(fs::absolute(p.run_dir)).string())) {
    t.state = "running";
    t.pid = proc_pid;
    return t;
  }
  const std::string s = t.status.value("state", "");
  const std::string proc_error = t.proc.contains("error") && t.proc["error"].is_string() ? t.proc["error"].get<std::string>() : "";
  // A resumed session that failed before its trainer wrote anything (a lock it could not take on a read-only file
  // system, a plugin that no longer loads) leaves the earlier session's "interrupted" in status.json: the sweep's
  // note of that later failure, written when the process ended, is then the newer word.
  const auto stamp = [](const nlohmann::json& j) {
    for (const char* k : {"ended", "updated"}) {
      if (j.contains(k) && j[k].is_string()) return j[k].get<std::string>();
    }
    return std::string();
  };
  const bool failed_since = s == "interrupted" && proc_state == "failed" && stamp(t.proc) >= stamp(t.status);
  if (t.run_dir && (s == "completed" || (s == "interrupted" && !failed_since))) {
    t.state = s;
    if (s == "interrupted") t.error = "interrupted (stopped by a signal)";
  } else if (t.run_dir && s == "failed") {
    t.state = "failed";
    t.error = !proc_error.empty() ? proc_error : t.status.value("error", std::string("failed"));
  } else if (proc_state == "failed") {
    // a crash (signal) leaves status.json "running"; or it failed before the run existed, or before a resumed
    // session wrote its status
    t.state = "failed";
    t.error = proc_error.empty() ? "failed" : proc_error;
  } else if (t.run_dir || proc_state == "interrupted" || proc_state == "running") {
    t.state = "interrupted";
    if (status_unreadable) {
      t.error = (p.run_dir / "status.json").string() + " is not a JSON object (damaged); taken as stopped";
    } else {
      t.error = t.run_dir ? "stopped without a final status (the process was killed)" : "stopped before it started";
    }
  } else {
    t.state = "pending";
  }
  return t;
}

}  // namespace ijepa::host
