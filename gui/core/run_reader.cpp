#include "core/run_reader.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace ijepa::gui {

namespace {

constexpr std::size_t kMaxProblems = 50;

bool is_number(const nlohmann::json& v) { return v.is_number() && !v.is_boolean(); }

std::string where_index(const std::string& where) {
  const auto dot = where.rfind('.');
  return dot == std::string::npos ? where : where.substr(dot + 1);
}

}  // namespace

std::string local_host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) return "";
  return host;
}

std::string status_state(const nlohmann::json& status, const std::string& this_host) {
  if (!status.is_object() || !status.contains("state") || !status["state"].is_string()) return "unknown";
  std::string state = status["state"].get<std::string>();
  if (state != "running" || this_host.empty()) return state;
  const auto host = status.find("host");
  const auto pid = status.find("pid");
  if (host == status.end() || !host->is_string() || host->get<std::string>() != this_host) return state;
  if (pid == status.end() || !pid->is_number_integer() || pid->get<long long>() <= 0) return state;
  const long long p = pid->get<long long>();
  bool alive = ::kill(static_cast<pid_t>(p), 0) == 0 || errno == EPERM;
  if (alive) {
    // A live process with that pid may be another program (the pid reused): it counts when it runs ijepa.
    std::ifstream in("/proc/" + std::to_string(p) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    alive = !in.is_open() || cmd.find("ijepa") != std::string::npos;
  }
  return alive ? state : "stopped (pid " + std::to_string(p) + " ended without recording it)";
}

RunReader::RunReader(fs::path dir) : host_(local_host_name()) {
  data_.dir = std::move(dir);
  data_.name = data_.dir.filename().string();
  if (data_.name.empty()) data_.name = data_.dir.parent_path().filename().string();
}

void RunReader::problem(std::string msg) {
  if (data_.problems.size() < kMaxProblems) data_.problems.push_back(std::move(msg));
}

bool RunReader::reread_json(const std::string& file, nlohmann::json& into, fs::file_time_type& stamp,
                            std::uintmax_t& size) {
  std::error_code ec;
  const fs::path p = data_.dir / file;
  const auto t = fs::last_write_time(p, ec);
  if (ec) return false;
  const auto s = fs::file_size(p, ec);
  if (ec || (t == stamp && s == size)) return false;
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    into = nlohmann::json::parse(ss.str());
  } catch (const std::exception&) {
    // Being replaced (writers rename into place, but a copy or an editor may leave it half written): keep the
    // last good value and look again at the next poll.
    return false;
  }
  stamp = t;
  size = s;
  return true;
}

void RunReader::add_metrics(const nlohmann::json& j, std::int64_t line) {
  if (!j.is_object() || !j.contains("step") || !is_number(j["step"])) {
    problem("metrics.jsonl line " + std::to_string(line) + ": no numeric 'step' (skipped)");
    return;
  }
  const double step = j["step"].get<double>();
  std::string prefix;
  if (auto it = j.find("split"); it != j.end() && it->is_string() && *it != "train") prefix = it->get<std::string>() + "/";
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "step" || !is_number(it.value())) continue;
    Series& s = data_.metrics[prefix + it.key()];
    s.x.push_back(step);
    s.y.push_back(it.value().get<double>());
  }
}

void RunReader::add_eval(const nlohmann::json& j, std::int64_t line) {
  if (!j.is_object() || !j.contains("step") || !is_number(j["step"]) || !j.contains("evaluator") ||
      !j["evaluator"].is_string()) {
    problem("eval.jsonl line " + std::to_string(line) + ": no 'step' or 'evaluator' (skipped)");
    return;
  }
  const double step = j["step"].get<double>();
  std::string name = j["evaluator"].get<std::string>();
  const std::string idx = j.contains("where") && j["where"].is_string() ? where_index(j["where"].get<std::string>()) : "";
  static const std::set<std::string> skip{"step", "epoch", "seconds", "train_n", "test_n", "k", "l2"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (skip.count(it.key()) || !is_number(it.value())) continue;
    Series& s = data_.evals[name + " " + it.key() + " #" + idx];
    s.x.push_back(step);
    s.y.push_back(it.value().get<double>());
  }
  if (auto r = j.find("random_init"); r != j.end() && r->is_object()) {
    for (auto it = r->begin(); it != r->end(); ++it) {
      if (skip.count(it.key()) || !is_number(it.value())) continue;
      Series& s = data_.evals[name + " " + it.key() + " #" + idx + " random-init"];
      s.x.push_back(step);
      s.y.push_back(it.value().get<double>());
    }
  }
}

bool RunReader::tail(const std::string& file, Tail& t, bool metrics) {
  std::error_code ec;
  const fs::path p = data_.dir / file;
  const auto size = fs::file_size(p, ec);
  if (ec) return false;
  if (size < t.offset) {  // truncated (a resumed run rewrites its tail): read it all again
    t = Tail{};
    if (metrics) {
      data_.metrics.clear();
      data_.metric_lines = 0;
    } else {
      data_.evals.clear();
      data_.eval_lines = 0;
    }
  }
  if (size == t.offset) return false;
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  in.seekg(static_cast<std::streamoff>(t.offset));
  std::string chunk(static_cast<std::size_t>(size - t.offset), '\0');
  in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  chunk.resize(static_cast<std::size_t>(in.gcount()));
  t.offset += chunk.size();
  t.partial += chunk;
  bool changed = false;
  std::size_t start = 0;
  for (std::size_t nl; (nl = t.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = t.partial.substr(start, nl - start);
    ++t.line;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception&) {
      problem(file + " line " + std::to_string(t.line) + ": not JSON (skipped)");
      continue;
    }
    if (metrics) {
      add_metrics(j, t.line);
      ++data_.metric_lines;
    } else {
      add_eval(j, t.line);
      ++data_.eval_lines;
    }
    changed = true;
  }
  t.partial.erase(0, start);
  return changed;
}

bool RunReader::poll() {
  bool changed = false;
  std::error_code ec;
  if (!fs::is_directory(data_.dir, ec)) {
    const std::string msg = data_.dir.string() + ": no such directory";
    if (data_.problems.empty() || data_.problems.back() != msg) {
      problem(msg);
      return true;
    }
    return false;
  }
  if (reread_json("status.json", data_.status, status_time_, status_size_)) changed = true;
  // Checked at every poll: a writer that dies changes nothing on disk.
  if (data_.status.is_object()) {
    std::string state = status_state(data_.status, host_);
    if (state != data_.state) changed = true;
    data_.state = std::move(state);
  }
  if (reread_json("config.resolved.json", data_.config, config_time_, config_size_)) changed = true;
  changed |= tail("metrics.jsonl", metrics_tail_, true);
  changed |= tail("eval.jsonl", eval_tail_, false);
  return changed;
}

DirKind classify(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return DirKind::missing;
  if (fs::exists(dir / "config.resolved.json", ec)) return DirKind::run;
  if (fs::exists(dir / "sweep.json", ec)) return DirKind::sweep;
  return DirKind::other;
}

namespace {

std::string run_state(const fs::path& dir) {
  std::ifstream in(dir / "status.json", std::ios::binary);
  if (!in) return "no status";
  try {
    return status_state(nlohmann::json::parse(in), local_host_name());
  } catch (const std::exception&) {
    return "status being written";
  }
}

void add_sweep(const fs::path& sweep, const std::string& prefix, std::vector<RunEntry>& out) {
  std::error_code ec;
  std::vector<std::string> names;
  std::set<std::string> seen;
  const fs::path trials = sweep / "trials";
  // Trial records (trials/<name>.json) list every trial, started or not.
  std::vector<fs::path> files;
  for (fs::directory_iterator it(trials, ec), end; !ec && it != end; it.increment(ec)) files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string fn = f.filename().string();
    const bool proc = fn.size() > 10 && fn.compare(fn.size() - 10, 10, ".proc.json") == 0;
    if (f.extension() == ".json" && !proc) names.push_back(f.stem().string());
  }
  for (const auto& f : files) {
    if (fs::is_directory(f, ec) && std::find(names.begin(), names.end(), f.filename().string()) == names.end()) {
      names.push_back(f.filename().string());
    }
  }
  for (const auto& n : names) {
    if (!seen.insert(n).second) continue;
    RunEntry e;
    e.dir = trials / n;
    e.name = prefix + "trials/" + n;
    e.kind = classify(e.dir);
    e.state = e.kind == DirKind::run ? run_state(e.dir) : "not started";
    if (e.kind != DirKind::run) e.kind = DirKind::run;  // a trial: shown as a run that has nothing yet
    out.push_back(std::move(e));
  }
}

void walk(const fs::path& dir, const std::string& prefix, int depth, std::vector<RunEntry>& out) {
  std::error_code ec;
  std::vector<fs::path> subs;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) subs.push_back(it->path());
  }
  std::sort(subs.begin(), subs.end());
  for (const auto& s : subs) {
    const std::string name = prefix + s.filename().string();
    switch (classify(s)) {
      case DirKind::run:
        out.push_back(RunEntry{s, name, DirKind::run, run_state(s)});
        break;
      case DirKind::sweep:
        out.push_back(RunEntry{s, name, DirKind::sweep, "sweep"});
        add_sweep(s, name + "/", out);
        break;
      case DirKind::other:
        if (depth > 1) walk(s, name + "/", depth - 1, out);
        break;
      case DirKind::missing:
        break;
    }
  }
}

}  // namespace

std::vector<RunEntry> list_runs(const fs::path& root, int depth) {
  std::vector<RunEntry> out;
  switch (classify(root)) {
    case DirKind::run:
      out.push_back(RunEntry{root, root.filename().string(), DirKind::run, run_state(root)});
      break;
    case DirKind::sweep:
      out.push_back(RunEntry{root, root.filename().string(), DirKind::sweep, "sweep"});
      add_sweep(root, "", out);
      break;
    case DirKind::other:
      walk(root, "", depth, out);
      break;
    case DirKind::missing:
      break;
  }
  return out;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& file, std::vector<std::string>* problems) {
  std::vector<nlohmann::json> out;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (problems) problems->push_back(file.string() + ": cannot be read");
    return out;
  }
  std::string line;
  std::int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception&) {
      if (problems) problems->push_back(file.filename().string() + " line " + std::to_string(n) + ": not JSON (skipped)");
    }
  }
  return out;
}

}  // namespace ijepa::gui
