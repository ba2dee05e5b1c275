#include "ijepa/host/run/run_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/proc/process.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void check_writable_parent(const fs::path& dir) {
  fs::path parent = fs::absolute(dir).parent_path();
  std::error_code ec;
  fs::path probe = parent;
  while (!probe.empty() && !fs::exists(probe, ec)) probe = probe.parent_path();
  if (probe.empty()) probe = "/";
  if (!fs::is_directory(probe, ec)) throw std::runtime_error(probe.string() + ": not a directory (output path " + dir.string() + ")");
  // access() is not enough for root; create and remove a probe file.
  const fs::path test_file = probe / (".ijepa-write-test-" + std::to_string(::getpid()));
  const int fd = ::open(test_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (::access(probe.c_str(), W_OK | X_OK) != 0 || fd < 0) {
    if (fd >= 0) {
      ::close(fd);
      ::unlink(test_file.c_str());
    }
    throw std::runtime_error(probe.string() + ": output directory is not writable (--out " + dir.string() + ")");
  }
  ::close(fd);
  ::unlink(test_file.c_str());
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return host;
}

std::string partial_marker_text(long pid) {
  return "ijepa-partial pid " + std::to_string(pid) + " host " + host_name() + "\n";
}

void make_partial_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (!fs::create_directory(dir, ec)) {  // never mark a folder that was there before (another's)
    throw std::runtime_error(dir.string() + ": cannot create" + (ec ? ": " + ec.message() : ": it exists"));
  }
  errno = 0;
  std::ofstream marker(dir / kPartialMarker);
  marker << partial_marker_text(::getpid());
  marker.close();
  if (!marker) {
    const std::string why = errno != 0 ? std::string(": ") + std::strerror(errno) : std::string();
    std::error_code rm;
    fs::remove(dir / kPartialMarker, rm);
    fs::remove(dir, rm);  // empty again: nothing else was written into it
    throw std::runtime_error((dir / kPartialMarker).string() + ": cannot write" + why);
  }
}

void clear_own_partial_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(dir, ec))) return;
  std::ifstream in(dir / kPartialMarker);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!fs::is_directory(fs::symlink_status(dir, ec)) || text != partial_marker_text(::getpid())) {
    throw std::runtime_error(dir.string() + ": exists and is not a leftover of this host's ijepa; move it away");
  }
  fs::remove_all(dir, ec);  // an earlier process's with this pid (gone: the pid is ours now)
}

bool leftover_partial_dir(const fs::path& entry, const std::string& base, const std::string& tag) {
  const std::string prefix = base + ".tmp-" + tag;
  const std::string f = entry.filename().string();
  if (f.size() <= prefix.size() || f.compare(0, prefix.size(), prefix) != 0 || f.size() - prefix.size() > 9) {
    return false;
  }
  const std::string digits = f.substr(prefix.size());
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(entry, ec)) || !fs::is_regular_file(entry / kPartialMarker, ec)) {
    return false;
  }
  const long pid = std::stol(digits);
  std::ifstream in(entry / kPartialMarker);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text != partial_marker_text(pid)) return false;  // another host's, or a marker that moved with a folder
  return !proc::process_alive(pid);
}

std::size_t remove_stale_temp_dirs(const fs::path& root) {
  const std::string base = root.filename().string();
  const fs::path parent = fs::absolute(root).parent_path();
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    std::error_code rm;
    if (leftover_partial_dir(e.path(), base, "") && fs::remove_all(e.path(), rm) > 0) ++removed;
  }
  return removed;
}

RunDir RunDir::create_fresh(const fs::path& root, const std::map<std::string, std::string>& files) {
  check_writable_parent(root);
  std::error_code ec;
  fs::create_directories(fs::absolute(root).parent_path(), ec);
  if (ec) throw std::runtime_error(root.parent_path().string() + ": cannot create: " + ec.message());
  const fs::path tmp = fs::path(root.string() + ".tmp-" + std::to_string(::getpid()));
  remove_stale_temp_dirs(root);
  clear_own_partial_dir(tmp);  // this pid's name, from before
  try {
    make_partial_dir(tmp);
    fs::create_directories(tmp / "checkpoints", ec);
    if (ec) throw std::runtime_error(tmp.string() + ": cannot create: " + ec.message());
    for (const auto& [name, text] : files) write_file_atomic(tmp / name, text);
  } catch (...) {
    std::error_code ignore;
    if (fs::is_regular_file(tmp / kPartialMarker, ignore)) fs::remove_all(tmp, ignore);
    throw;
  }
  fs::rename(tmp, root, ec);
  if (ec) {
    const std::string why = ec == std::errc::directory_not_empty || ec == std::errc::file_exists
                                ? "it exists now (another run started there at the same time)"
                                : ec.message();
    std::error_code ignore;
    fs::remove_all(tmp, ignore);
    throw std::runtime_error(root.string() + ": cannot create the run directory: " + why);
  }
  fs::remove(root / kPartialMarker, ec);  // in place: a run directory, no longer a partial one
  return RunDir(root);
}

void RunDir::write_status(const nlohmann::json& status) const {
  write_file_atomic(root_ / "status.json", status.dump(2) + "\n");
}

nlohmann::json RunDir::read_status() const {
  try {
    std::ifstream in(root_ / "status.json");
    if (!in) return nlohmann::json::object();
    return nlohmann::json::parse(in);
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

void RunDir::append_jsonl(const std::string& file, const nlohmann::json& record) const {
  errno = 0;
  std::ofstream out(root_ / file, std::ios::app);
  if (!out) throw std::runtime_error((root_ / file).string() + ": cannot append: " + std::strerror(errno));
  out << record.dump() << "\n";
  out.flush();
  if (!out) {
    throw std::runtime_error((root_ / file).string() + ": write failed" +
                             (errno != 0 ? std::string(": ") + std::strerror(errno) : std::string()));
  }
}

void RunDir::enable_events(bool on, std::int64_t purge_step) {
  events_->on = on;
  events_->purge_step = purge_step;
}

void RunDir::scalars(std::int64_t step, const io::Scalars& values) const {
  if (!events_->on || values.empty()) return;
  if (!events_->writer) events_->writer = std::make_unique<io::EventWriter>(root_, events_->purge_step);
  events_->writer->scalars(step, values);
}

namespace {
bool plain_number(const nlohmann::json& v) { return v.is_number() && !v.is_boolean(); }
}  // namespace

io::Scalars train_scalars(const nlohmann::json& record) {
  io::Scalars out;
  for (auto it = record.begin(); it != record.end(); ++it) {
    const std::string& k = it.key();
    if (k == "step" || k == "epoch" || !plain_number(it.value())) continue;
    const auto dot = k.find('.');
    out.emplace_back(dot == std::string::npos ? "train/" + k : k.substr(0, dot) + "/" + k.substr(dot + 1),
                     it.value().get<double>());
  }
  return out;
}

io::Scalars eval_scalars(const nlohmann::json& record, const std::string& label) {
  io::Scalars out;
  const std::string base = "eval/" + label + "/";
  for (auto it = record.begin(); it != record.end(); ++it) {
    const std::string& k = it.key();
    if (eval_bookkeeping_key(k)) continue;
    if (plain_number(it.value())) {
      out.emplace_back(base + k, it.value().get<double>());
    } else if ((k == "random_init" || k == "gain") && it.value().is_object()) {
      for (auto jt = it.value().begin(); jt != it.value().end(); ++jt) {
        if (plain_number(jt.value())) out.emplace_back(base + k + "/" + jt.key(), jt.value().get<double>());
      }
    }
  }
  return out;
}

void RunDir::truncate_jsonl_after(const std::string& file, std::int64_t step) const {
  const fs::path p = root_ / file;
  std::ifstream in(p);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.contains("step") && j["step"].is_number_integer() && j["step"].get<std::int64_t>() > step) continue;
    } catch (const std::exception&) {
      continue;  // a torn last line from a crash
    }
    kept += line + "\n";
  }
  in.close();
  write_file_atomic(p, kept);
}

}  // namespace ijepa::host
