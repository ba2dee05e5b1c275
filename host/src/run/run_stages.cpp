#include "ijepa/host/run/run_stages.hpp"

#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include "ijepa/host/build_config.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/config/loader_config.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/hosting/abi_check.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/io/files.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/proc/process.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/util/sdpa.hpp"
#include "ijepa/sdk/version.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

std::string fmt_double(double v, int prec = 4) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

proc::FileLock lock_run(const fs::path& dir) {
  std::optional<proc::FileLock> lock;
  try {
    lock = proc::FileLock::try_acquire(dir / ".lock");
  } catch (const std::exception& e) {  // a read-only or full file system: say so, not "in use"
    throw ConfigError(std::string(e.what()) + " (the run cannot be written here)");
  }
  if (!lock) throw ConfigError(dir.string() + ": the run is in use by another ijepa process");
  return std::move(*lock);
}

std::optional<Checkpoint> check_resume(const nlohmann::json& resolved, const Registry& registry, const fs::path& out,
                                       int world) {
  nlohmann::json old = load_json_file(out / "config.resolved.json");
  fill_added_defaults(old, registry);  // keys added since the run was written count as their defaults
  // A run with a checkpoint resumes from it, whatever train.init_from says now (its source may be gone); one without
  // starts afresh, from the weights the key names, so the key must be the same.
  std::error_code ec;
  if (fs::exists(out / "checkpoints" / "LATEST", ec) && old.contains("train") && old["train"].is_object()) {
    old["train"]["init_from"] = resolved.at("train").value("init_from", nlohmann::json(""));
  }
  const std::string diff = first_material_difference(std::move(old), resolved);
  if (!diff.empty()) {
    throw ConfigError("--resume: the config differs from " + (out / "config.resolved.json").string() + " at '" + diff +
                      "' (resume needs the same config; start a new run with another --out)");
  }
  const nlohmann::json old_status = RunDir(out).read_status();
  const auto old_world = old_status.is_object() ? old_status.value("world_size", 1) : 1;
  if (old_world != world) {
    throw ConfigError("--resume: " + out.string() + " was trained on " + std::to_string(old_world) +
                      " rank(s), this launch has " + std::to_string(world) +
                      " (the world size sets the data order and steps per epoch; resume with the same number)");
  }
  std::optional<Checkpoint> ckpt = read_latest(out / "checkpoints");
  if (!ckpt) {
    for (const auto& e : fs::directory_iterator(out / "checkpoints", ec)) {
      if (e.path().filename().string().rfind("step_", 0) == 0) {
        throw ConfigError("--resume: " + (out / "checkpoints").string() +
                          " has checkpoint files but no LATEST pointer; restore it or start a new run");
      }
    }
  }
  return ckpt;
}

// The GNU build id of the running executable (hex; "" when it has none): the main program is the first object
// dl_iterate_phdr reports.
std::string executable_build_id() {
  std::string id;
  ::dl_iterate_phdr(
      [](struct dl_phdr_info* info, std::size_t, void* data) -> int {
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
          const unsigned char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const unsigned char* name = p + sizeof(ElfW(Nhdr));
            const unsigned char* desc = name + ((n->n_namesz + 3) & ~3u);
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0 &&
                desc + n->n_descsz <= end) {
              static const char* hex = "0123456789abcdef";
              auto* out = static_cast<std::string*>(data);
              for (ElfW(Word) k = 0; k < n->n_descsz; ++k) {
                *out += hex[desc[k] >> 4];
                *out += hex[desc[k] & 15];
              }
              return 1;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
          }
        }
        return 1;  // only the first object, the executable
      },
      &id);
  return id;
}

// A resume may run under another thread count, host or build than the start: env.json keeps the start's record and
// gains one entry per resume in "resumes" (at_step and this process's env; at::show_config() only where it changed).
// The incidental keys this session changed (config.resolved.json then holds this session's values) are recorded as
// "config_changes": {"data.workers": {"was": 2, "now": 4}}. An env.json that cannot be read as an object is left as
// it is, with a warning.
void record_resume_env(const fs::path& file, nlohmann::json now, std::int64_t at_step,
                       const nlohmann::json& config_changes) {
  nlohmann::json env = nlohmann::json::object();
  std::error_code ec;
  if (fs::exists(file, ec)) {
    try {
      env = load_json_file(file);
    } catch (const std::exception& e) {
      logging::warn(std::string("resume: this resume's environment is not recorded: ") + e.what());
      return;
    }
  }
  if (!env.is_object() || (env.contains("resumes") && !env["resumes"].is_array())) {
    logging::warn("resume: this resume's environment is not recorded: " + file.string() +
                  " is not an env.json object with a \"resumes\" array");
    return;
  }
  // Plugins rebuilt since the session before (a fixed bug, an edited loss): the run's steps from here on come from
  // another build than those before, which the run's record should not hide.
  const bool resumed = env.contains("resumes") && !env["resumes"].empty() && env["resumes"].back().is_object() &&
                       env["resumes"].back().contains("plugins");
  const nlohmann::json last =
      resumed ? env["resumes"].back()["plugins"] : env.value("plugins", nlohmann::json::array());
  std::string changed;
  std::size_t n_changed = 0;
  for (const auto& p : now.value("plugins", nlohmann::json::array())) {
    for (const auto& q : last.is_array() ? last : nlohmann::json::array()) {
      if (!q.is_object() || q.value("id", "") != p.value("id", "") || q.value("sha256", "") == p.value("sha256", "")) {
        continue;
      }
      changed += std::string(n_changed++ ? ", " : "") + p.value("id", "?") + " (sha256 " +
                 q.value("sha256", "").substr(0, 12) + " then, " + p.value("sha256", "").substr(0, 12) + " now)";
    }
  }
  if (n_changed > 0) {
    logging::warn("resume: " + std::to_string(n_changed) + " plugin(s) differ from the build the run last used: " +
                  changed + "; steps from " + std::to_string(at_step) + " on use this build (env.json records both)");
  }
  // The host too (the step loop, AdamW, the schedules and the loader are its code).
  const auto text = [](const nlohmann::json& j, const char* key) {  // "" unless a string (a hand-edited env.json)
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  const std::string exe_then = text(resumed ? env["resumes"].back() : env, "executable_build_id");
  const std::string exe_now = text(now, "executable_build_id");
  if (!exe_then.empty() && !exe_now.empty() && exe_then != exe_now) {
    logging::warn("resume: the ijepa executable differs from the build the run last used (build id " +
                  exe_then.substr(0, 12) + " then, " + exe_now.substr(0, 12) + " now); steps from " +
                  std::to_string(at_step) + " on use this build (env.json records both)");
  }
  if (env.contains("torch_config") && env["torch_config"] == now["torch_config"]) now.erase("torch_config");
  now["at_step"] = at_step;
  if (!config_changes.empty()) now["config_changes"] = config_changes;
  env["resumes"].push_back(std::move(now));
  write_file_atomic(file, env.dump(2) + "\n");
}

}  // namespace

RunTarget check_run_target(const nlohmann::json& resolved, const Registry& registry, const TrainOptions& opts,
                           int world, bool writer) {
  RunTarget t;
  const fs::path& out = opts.out;
  std::error_code ec;
  if (opts.resume) {
    if (!fs::exists(fs::symlink_status(out, ec))) {
      throw ConfigError("--resume: " + out.string() + " does not exist (nothing to resume; without --resume a new "
                        "run starts there)");
    }
    if (!fs::exists(out / "config.resolved.json", ec)) {
      throw ConfigError("--resume: " + out.string() + " is not a run directory (no config.resolved.json)");
    }
    if (writer) t.lock = lock_run(out);
    t.resume = check_resume(resolved, registry, out, world);
  } else if (writer) {  // rank 0 checks and creates the run directory
    if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
      throw ConfigError(out.string() + " already exists (pass --resume to continue that run, or choose another --out)");
    }
    check_writable_parent(out);
  }
  return t;
}

nlohmann::json env_json(const PluginHost& host, const TrainOptions& opts) {
  nlohmann::json env;
  env["workbench"] = IJEPA_WORKBENCH_VERSION;
  env["sdk"] = IJEPA_SDK_VERSION_STRING;
  env["torch"] = TORCH_VERSION;
  env["fingerprint"] = describe_abi(host_abi_info());
  env["cuda"] = util::cuda_summary();
  env["sdpa"] = util::sdpa_description();
  env["torch_config"] = at::show_config();
  env["threads"] = at::get_num_threads();
  // The host build: the executable's GNU build id (a hash of its contents the linker wrote; reading it costs
  // nothing, where hashing the 100 MB file would cost a second), so a rebuilt host is told apart on resume.
  env["executable_build_id"] = executable_build_id();
  env["hostname"] = host_name();
  env["started"] = utc_now();
  env["argv"] = opts.argv;
  env["plugins"] = nlohmann::json::array();
  for (const auto& p : host.loaded()) {
    env["plugins"].push_back({{"id", p.plugin_id}, {"version", p.plugin_version}, {"path", p.path}, {"sha256", p.sha256}});
  }
  return env;
}

RunDir open_run_dir(const nlohmann::json& resolved, const PluginHost& host, const TrainOptions& opts,
                    std::int64_t start_step, std::int64_t end_step, proc::FileLock& lock) {
  const fs::path& out = opts.out;
  if (opts.resume) {
    RunDir run(out);
    // What a killed writer left: temporary files beside status.json and in checkpoints/, step files of other steps.
    const std::size_t removed = clean_checkpoint_dir(run.checkpoints()) + remove_temp_files(out);
    if (removed > 0) logging::info("resume: removed " + std::to_string(removed) + " leftover temporary file(s)");
    run.truncate_jsonl_after("metrics.jsonl", start_step);
    run.truncate_jsonl_after("eval.jsonl", start_step);
    run.enable_events(resolved.at("train").at("tensorboard").get<bool>(), start_step + 1);  // keeps step <= start
    // Records changed max_steps etc.; a run resumed from a checkpoint keeps the train.init_from it started from.
    nlohmann::json recorded = resolved;
    const nlohmann::json before = load_json_file(out / "config.resolved.json");
    if (start_step > 0 && before.contains("train") && before["train"].is_object() &&
        before["train"].contains("init_from")) {
      recorded["train"]["init_from"] = before["train"]["init_from"];
    }
    nlohmann::json before_filled = before;  // a key added since the run was written counts as its default
    fill_added_defaults(before_filled, host.registry());
    const nlohmann::json changes = incidental_changes(before_filled, recorded);
    if (!changes.empty()) {
      std::string keys;
      for (auto it = changes.begin(); it != changes.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
      logging::info("resume: " + keys + " changed since the last session (env.json's resumes record the old values)");
    }
    write_file_atomic(out / "config.resolved.json", recorded.dump(2) + "\n");
    record_resume_env(out / "env.json", env_json(host, opts), start_step, changes);
    logging::info("resuming " + out.string() + " at step " + std::to_string(start_step));
    return run;
  }
  nlohmann::json overrides = nlohmann::json::object();
  for (const auto& s : opts.sets) {
    const auto eq = s.find('=');
    overrides[s.substr(0, eq)] = s.substr(eq + 1);
  }
  const nlohmann::json status0 = {{"state", "running"}, {"step", 0}, {"total_steps", end_step},
                                  {"started", utc_now()}, {"config_sha", config_hash(resolved)},
                                  {"pid", static_cast<long long>(::getpid())}, {"host", host_name()}};
  RunDir run = RunDir::create_fresh(out, {{"config.resolved.json", resolved.dump(2) + "\n"},
                                          {"overrides.json", overrides.dump(2) + "\n"},
                                          {"env.json", env_json(host, opts).dump(2) + "\n"},
                                          {"status.json", status0.dump(2) + "\n"}});
  lock = lock_run(out);
  run.enable_events(resolved.at("train").at("tensorboard").get<bool>());
  return run;
}

// ---- the step plan -----------------------------------------------------------------------------------------------

std::filesystem::path init_from_file(const nlohmann::json& train) {
  const nlohmann::json v = train.value("init_from", nlohmann::json(""));
  if (!v.is_string()) throw ConfigError("train.init_from: expected a path (string), got " + v.dump());
  const std::string p = v.get<std::string>();
  if (p.empty()) return {};
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    const fs::path latest = fs::path(p) / "checkpoints" / "latest.safetensors";
    if (!fs::exists(latest, ec)) {
      throw ConfigError("train.init_from: " + p + " is a directory without a checkpoint (" + latest.string() +
                        " is missing)");
    }
    return latest;
  }
  if (!fs::is_regular_file(p, ec)) {
    throw ConfigError("train.init_from: no such checkpoint file or run directory '" + p + "'");
  }
  return p;
}

void validate_train(const nlohmann::json& resolved) {
  const nlohmann::json& train = resolved.at("train");
  if (const auto it = train.find("init_from"); it != train.end() && !it->is_string()) {
    throw ConfigError("train.init_from: expected a path (string), got " + it->dump());
  }  // the file itself: where a new run starts (a resumed one reads its own checkpoint)
  auto positive = [&](const char* key) {
    if (!(train.at(key).get<double>() > 0)) throw ConfigError(std::string("train.") + key + ": must be > 0");
  };
  positive("epochs");
  positive("batch_size");
  positive("log_every");
  positive("ipe_scale");
  // Below 1 the schedules end before the run does: past T the EMA momentum passes ema[1] (above 1, the target moves
  // away from the encoder) and the lr's cosine climbs again; the official momentum iterator runs out there instead.
  if (const double sc = train.at("ipe_scale").get<double>(); sc < 1.0) {
    std::ostringstream os;
    os << "train.ipe_scale: must be >= 1, got " << sc << " (the schedules would end before the run: past that "
       << "step the EMA momentum would exceed train.ema's end)";
    throw ConfigError(os.str());
  }
  for (const char* k : {"lr", "start_lr", "final_lr", "weight_decay", "final_weight_decay", "warmup_epochs"}) {
    if (train.at(k).get<double>() < 0) throw ConfigError(std::string("train.") + k + ": must be >= 0");
  }
  for (const char* k : {"max_steps", "checkpoint_every", "keep_epoch_checkpoints", "threads"}) {
    if (train.at(k).get<std::int64_t>() < 0) throw ConfigError(std::string("train.") + k + ": must be >= 0");
  }
  // The target encoder's momentum: a convex combination of itself and the context encoder, each end in [0, 1].
  const auto& ema = train.at("ema");
  if (!ema.is_array() || ema.size() != 2 || !ema[0].is_number() || !ema[1].is_number()) {
    throw ConfigError("train.ema: expected [start, end], got " + ema.dump());
  }
  for (const auto& m : ema) {
    if (!(m.get<double>() >= 0.0 && m.get<double>() <= 1.0)) {
      throw ConfigError("train.ema: each momentum must be within [0, 1], got " + ema.dump());
    }
  }
  // One batch of float images must fit: a batch size typed with digits too many stops here, not in the OOM killer.
  const double side = resolved.at("data").at("image_size").get<double>();
  const double batch_bytes = train.at("batch_size").get<double>() * 3.0 * side * side * 4.0;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  const double memory = static_cast<double>(pages) * static_cast<double>(page);
  if (pages > 0 && page > 0 && batch_bytes > memory) {
    std::ostringstream os;
    os << std::setprecision(3) << "train.batch_size: one batch of " << train.at("batch_size").dump() << " images of "
       << resolved.at("data").at("image_size").dump() << " px takes " << batch_bytes / 1073741824.0
       << " GiB, more than this machine's " << memory / 1073741824.0 << " GiB of memory";
    throw ConfigError(os.str());
  }
}

std::vector<std::string> train_warnings(const nlohmann::json& train) {
  std::vector<std::string> out;
  auto num = [&](const char* k) { return train.at(k).get<double>(); };
  auto text = [](double v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  if (num("warmup_epochs") > num("epochs")) {
    out.push_back("train.warmup_epochs (" + text(num("warmup_epochs")) + ") is longer than train.epochs (" +
                  text(num("epochs")) + "): the learning rate never reaches train.lr");
  }
  if (num("start_lr") > num("lr")) {
    out.push_back("train.start_lr (" + text(num("start_lr")) + ") is above train.lr (" + text(num("lr")) +
                  "): the warm-up lowers the learning rate");
  }
  if (num("final_lr") > num("lr")) {
    out.push_back("train.final_lr (" + text(num("final_lr")) + ") is above train.lr (" + text(num("lr")) +
                  "): the cosine schedule raises the learning rate");
  }
  const auto& ema = train.at("ema");
  if (ema.is_array() && ema.size() == 2 && ema[0].is_number() && ema[1].is_number() &&
      ema[0].get<double>() > ema[1].get<double>()) {
    out.push_back("train.ema " + ema.dump() + " falls: the target encoder follows the context encoder ever more "
                  "closely (the official schedule rises, 0.996 to 1.0)");
  }
  return out;
}

void check_before_training(const nlohmann::json& resolved, const std::vector<std::string>& sets, bool init_file) {
  try {
    (void)experiment_context(resolved);
    validate_train(resolved);
    if (init_file) (void)init_from_file(resolved.at("train"));
    validate_data_config(resolved.at("data"));
    (void)loader_options(resolved, 0, 1, false);  // data.crop_scale, data.workers
  } catch (const ConfigError& e) {
    throw ConfigError(with_set_origin(e.what(), sets));
  }
}

Schedules make_schedules(const nlohmann::json& train, std::int64_t ipe) {
  Schedules s;
  s.ref_lr = train.at("lr").get<double>();
  s.start_lr = train.at("start_lr").get<double>();
  s.final_lr = train.at("final_lr").get<double>();
  s.ref_wd = train.at("weight_decay").get<double>();
  s.final_wd = train.at("final_weight_decay").get<double>();
  const auto& ema = train.at("ema");
  if (!ema.is_array() || ema.size() != 2 || !ema[0].is_number() || !ema[1].is_number())
    throw ConfigError("train.ema: expected [start, end], got " + ema.dump());
  s.ema0 = ema[0].get<double>();
  s.ema1 = ema[1].get<double>();
  const double epochs = train.at("epochs").get<double>();
  const double ipe_scale = train.at("ipe_scale").get<double>();
  s.warmup_steps = static_cast<std::int64_t>(train.at("warmup_epochs").get<double>() * static_cast<double>(ipe));
  s.total_steps = static_cast<std::int64_t>(ipe_scale * epochs * static_cast<double>(ipe));
  s.ema_steps = static_cast<double>(ipe) * epochs * ipe_scale;
  if (s.total_steps < 1) throw ConfigError("train.epochs: the run has no steps (epochs * ipe_scale * steps per epoch < 1)");
  return s;
}

StepPlan make_step_plan(const nlohmann::json& train, std::int64_t ipe, std::int64_t start) {
  StepPlan p;
  p.ipe = ipe;
  p.start = start;
  p.epochs = static_cast<std::int64_t>(std::ceil(train.at("epochs").get<double>()));
  p.end = static_cast<std::int64_t>(train.at("epochs").get<double>() * static_cast<double>(ipe));
  if (const auto ms = train.at("max_steps").get<std::int64_t>(); ms > 0) p.end = std::min(p.end, ms);
  p.log_every = train.at("log_every").get<std::int64_t>();
  p.ckpt_every = train.at("checkpoint_every").get<std::int64_t>();
  p.keep_epochs = train.at("keep_epoch_checkpoints").get<std::int64_t>();
  return p;
}

bool StepPlan::keep_epoch_copy(std::int64_t done) const {
  return epoch_end(done) && keep_epochs > 0 && (done / ipe) % keep_epochs == 0;
}

bool StepPlan::save_due(std::int64_t done) const {
  return (ckpt_every > 0 && done % ckpt_every == 0) || (ckpt_every == 0 && epoch_end(done)) || keep_epoch_copy(done);
}

std::vector<std::size_t> StepPlan::evals_due(const std::vector<EvaluatorSpec>& specs, std::int64_t done) const {
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const EvaluatorSpec& es = specs[i];
    if ((es.every_steps > 0 && done % es.every_steps == 0) ||
        (es.every_epochs > 0 && epoch_end(done) && (done / ipe) % es.every_epochs == 0) || (es.at_end && done == end)) {
      due.push_back(i);
    }
  }
  return due;
}

// ---- losses ------------------------------------------------------------------------------------------------------

void LossWindow::push(std::int64_t step, double lr, const at::Tensor& loss, const at::Tensor& stop) {
  pending_.push_back({step, lr, loss, stop});
}

void LossWindow::flush(std::int64_t last_checkpoint) {
  if (pending_.empty()) return;
  std::vector<at::Tensor> ls, ss;
  for (const Pending& p : pending_) {
    ls.push_back(p.loss);
    if (p.stop.defined()) ss.push_back(p.stop);
  }
  // One device-to-host copy: the losses, then the stop wishes (same dtype and device).
  const at::Tensor on_host =
      (ss.empty() ? at::stack(ls) : at::cat({at::stack(ls), at::stack(ss)})).to(at::kCPU, at::kDouble).contiguous();
  const double* v = on_host.data_ptr<double>();
  for (std::size_t i = 0; i < ss.size(); ++i) stop_seen_ = stop_seen_ || v[pending_.size() + i] > 0;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (!std::isfinite(v[i])) {
      failed_step_ = pending_[i].step + 1;
      throw TrainingError("loss is " + fmt_double(v[i]) + " at step " + std::to_string(failed_step_) + " (lr " +
                          fmt_double(pending_[i].lr) + "); " +
                          (last_checkpoint > 0 ? "the last good checkpoint (step " + std::to_string(last_checkpoint) +
                                                     ") is kept"
                                               : std::string("no checkpoint had been written yet")));
    }
    values_.push_back(v[i]);
    if (size() > keep_) values_.pop_front();
  }
  last_ = v[pending_.size() - 1];
  pending_.clear();
}

double LossWindow::mean_of_last(std::int64_t n) const {
  n = std::min(n, size());
  if (n <= 0) return 0.0;
  double sum = 0.0;  // oldest first, as the losses came
  for (auto it = values_.end() - n; it != values_.end(); ++it) sum += *it;
  return sum / static_cast<double>(n);
}

void LossWindow::restore(const std::vector<double>& losses) {
  values_.assign(losses.begin(), losses.end());
  while (size() > keep_) values_.pop_front();
  if (!values_.empty()) last_ = values_.back();
}

// ---- progress ----------------------------------------------------------------------------------------------------

std::string eta_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

ProgressLog::ProgressLog(RunDir* run, const StepPlan& plan, std::int64_t images_per_step, bool quiet,
                         nlohmann::json status)
    : run_(run), plan_(plan), images_per_step_(images_per_step), quiet_(quiet || run == nullptr),
      tty_(!quiet_ && ::isatty(STDERR_FILENO) != 0), status_(std::move(status)) {
  t0_ = t_log_ = std::chrono::steady_clock::now();
  // A resumed run: its kept metrics.jsonl records (those up to the start) replayed silently, so the health watch
  // judges against the run's first logged values and does not warn again about what it warned of before, and the
  // summary's first loss is the run's, not this session's.
  if (run_ == nullptr || plan_.start == 0) return;
  std::ifstream in(run_->root() / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json rec = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!rec.is_object() || rec.value("split", "train") != "train" || !rec.contains("step") ||
        !rec["step"].is_number_integer()) {
      continue;  // a torn or hand-edited line is not a record
    }
    sdk::Metrics m;
    for (auto it = rec.begin(); it != rec.end(); ++it) {
      if (it.key().rfind("health.", 0) == 0 && it->is_number()) m[it.key()] = it->get<double>();
    }
    (void)health_.check(rec["step"].get<std::int64_t>(), m);
    if (!first_window_done_ && rec.contains("loss_avg") && rec["loss_avg"].is_number()) {
      first_loss_ = rec["loss_avg"].get<double>();
      // The first record comes at its session's log_every, or earlier at the run's end: its window is its step.
      first_steps_ = rec["step"].get<std::int64_t>();
      first_window_done_ = true;
    }
  }
}

double ProgressLog::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void ProgressLog::exclude(double seconds) {
  excluded_ += seconds;
  t_log_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

void ProgressLog::end_line() const {
  if (tty_) std::cerr << "\n";
}

void ProgressLog::write_status() const {
  if (run_ != nullptr) run_->write_status(status_);
}

void ProgressLog::log_step(std::int64_t done, std::int64_t epoch, const JepaModel::StepResult& r,
                           const LossWindow& losses, std::int64_t images_skipped) {
  if (run_ == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  const double dt = std::chrono::duration<double>(now - t_log_).count();
  const double ips = dt > 0 ? static_cast<double>(imgs_since_log_) / dt : 0.0;
  t_log_ = now;
  imgs_since_log_ = 0;
  const double mean_loss = losses.mean();
  if (!first_window_done_) {
    first_loss_ = mean_loss;
    first_steps_ = losses.mean_count();
    first_window_done_ = true;
  }
  nlohmann::json rec = {{"step", done}, {"epoch", epoch}, {"split", "train"}, {"loss", losses.last()},
                        {"loss_avg", mean_loss}, {"lr", r.lr}, {"wd", r.wd}, {"ema_m", r.ema_m},
                        {"k_enc", r.k_enc}, {"k_pred", r.k_pred}, {"images_per_s", ips},
                        {"time_s", std::chrono::duration<double>(now - t0_).count()}};
  for (const auto& [k, v] : r.extra) rec[k] = v;
  run_->append_jsonl("metrics.jsonl", rec);
  run_->scalars(done, train_scalars(rec));
  const double eta = ips > 0 ? static_cast<double>((plan_.end - done) * images_per_step_) / ips : -1;
  std::ostringstream line;
  line << "step " << done << "/" << plan_.end << "  epoch " << (epoch + 1) << "/" << plan_.epochs << "  loss "
       << fmt_double(mean_loss, 5) << "  lr " << fmt_double(r.lr, 3);
  if (auto it = r.extra.find("health.rank_target"); it != r.extra.end()) line << "  rank " << fmt_double(it->second, 3);
  if (auto it = r.extra.find("health.positional_share"); it != r.extra.end()) line << "  pos " << fmt_double(it->second, 2);
  line << "  " << fmt_double(ips, 4) << " img/s  ETA " << eta_text(eta);
  if (tty_) {
    const int width = 24;
    const int filled = static_cast<int>(width * done / std::max<std::int64_t>(1, plan_.end));
    std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
              << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << line.str() << "   " << std::flush;
  } else if (!quiet_) {
    logging::info(line.str());
  }
  status_["step"] = done;
  status_["epoch"] = epoch;
  status_["loss"] = mean_loss;
  status_["images_per_s"] = ips;
  status_["images_skipped"] = images_skipped;
  status_["updated"] = utc_now();
  for (const std::string& w : health_.check(done, r.extra)) {
    end_line();
    logging::warn(w);
    status_["health_warnings"].push_back(w);
  }
  run_->write_status(status_);
}

// ---- checkpoints -------------------------------------------------------------------------------------------------

Checkpointer::Checkpointer(RunDir* run, const nlohmann::json& resolved, std::int64_t ipe, std::int64_t start_step)
    : run_(run), config_sha_(config_hash(resolved)), config_dump_(resolved.dump()), ipe_(ipe), last_saved_(start_step) {}

void Checkpointer::check_run_dir() const {
  if (run_ != nullptr && !fs::exists(run_->root() / "config.resolved.json")) {
    throw std::runtime_error(run_->root().string() + ": config.resolved.json is gone: the run directory was removed "
                             "or replaced while the run trained");
  }
}

void Checkpointer::save(const JepaModel& model, std::int64_t step_done, bool epoch_copy,
                        const std::vector<double>& recent_losses) {
  last_saved_ = step_done;
  if (run_ == nullptr) return;
  check_run_dir();  // never write checkpoints into a directory that is no longer the run's
  Checkpoint c;
  char name[32];
  std::snprintf(name, sizeof(name), "step_%08lld", static_cast<long long>(step_done));
  c.name = name;
  c.step = step_done;
  c.epoch = step_done / ipe_;
  c.weights = model.weights();
  c.trainer = model.trainer_state();
  c.trainer["losses"] = at::tensor(at::ArrayRef<double>(recent_losses), at::kDouble);
  c.metadata = {{"format", "ijepa-cpp"}, {"sdk", IJEPA_SDK_VERSION_STRING}, {"config_sha", config_sha_},
                {"config", config_dump_}, {"step", std::to_string(step_done)}};
  write_checkpoint(run_->checkpoints(), c);
  if (epoch_copy) copy_epoch(step_done);
}

void Checkpointer::copy_epoch(std::int64_t step_done) {
  // A byte copy of the step's weights file, metadata included (step, epoch, name, the CRC-32s that
  // verify_checksums reads), made beside it and renamed into place.
  char name[48], ename[48];
  std::snprintf(name, sizeof(name), "step_%08lld.safetensors", static_cast<long long>(step_done));
  std::snprintf(ename, sizeof(ename), "epoch_%04lld.safetensors", static_cast<long long>(step_done / ipe_));
  const fs::path dst = run_->checkpoints() / ename;
  const fs::path tmp = run_->checkpoints() / ("." + std::string(ename) + ".tmp." + std::to_string(::getpid()));
  std::error_code ec;
  fs::copy_file(run_->checkpoints() / name, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, dst, ec);
  if (ec) {
    std::error_code rm;
    fs::remove(tmp, rm);
    throw std::runtime_error(dst.string() + ": cannot write the epoch copy: " + ec.message());
  }
}

void Checkpointer::restore_epoch_copy(std::int64_t step) {
  if (run_ == nullptr || step <= 0) return;
  char ename[48];
  std::snprintf(ename, sizeof(ename), "epoch_%04lld.safetensors", static_cast<long long>(step / ipe_));
  if (fs::exists(run_->checkpoints() / ename)) return;
  copy_epoch(step);
  logging::warn(std::string("resume: checkpoints/") + ename + " was missing (the run stopped between its step file "
                "and the copy); made now from the step file");
}

// ---- evaluations -------------------------------------------------------------------------------------------------

TrainingEvals::TrainingEvals(const nlohmann::json& resolved, const Registry& registry, const JepaModel& model,
                             bool writer) {
  const auto& entries = resolved.at("components").at("evaluators");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    specs_.push_back(parse_evaluator(entries[i], "components.evaluators." + std::to_string(i)));
  }
  // TensorBoard labels: the evaluator's type, with its index where the type appears more than once.
  std::map<std::string, int> uses;
  for (const auto& s : specs_) ++uses[s.type];
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    labels_[specs_[i].where] = specs_[i].type + (uses[specs_[i].type] > 1 ? "_" + std::to_string(i) : "");
  }
  if (!specs_.empty() && writer) {
    evaluation_ = std::make_unique<Evaluation>(resolved, specs_, registry, model.context(), model.device());
  }
}

double TrainingEvals::catch_up(JepaModel& model, const StepPlan& plan, RunDir& run, ProgressLog& progress) {
  if (plan.start <= 0) return 0.0;
  std::vector<std::size_t> missing;
  std::set<std::string> recorded;  // evaluator locations with a record at the checkpoint's step
  std::ifstream in(run.root() / "eval.jsonl");
  for (std::string line; std::getline(in, line);) {
    try {
      const nlohmann::json rec = nlohmann::json::parse(line);
      if (rec.value("step", std::int64_t{-1}) == plan.start) recorded.insert(rec.value("where", std::string()));
    } catch (const std::exception&) {  // a torn last line of a killed run: not a record
    }
  }
  for (std::size_t i : plan.evals_due(specs_, plan.start)) {
    if (!recorded.count(specs_[i].where)) missing.push_back(i);
  }
  if (missing.empty()) return 0.0;
  logging::info("resume: " + std::to_string(missing.size()) + " evaluation(s) due at step " +
                std::to_string(plan.start) + " were not recorded; running them now");
  return this->run(model, missing, plan.start, plan.ipe, run, progress);
}

namespace {

// While an in-run evaluation works (minutes for a probe on whole splits), a first Ctrl-C or SIGTERM is answered at
// once rather than with silence until the evaluation ends.
class StopNotice {
 public:
  explicit StopNotice(std::string message) : message_(std::move(message)), watcher_([this] { watch(); }) {}
  ~StopNotice() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    watcher_.join();
  }
  StopNotice(const StopNotice&) = delete;
  StopNotice& operator=(const StopNotice&) = delete;

 private:
  void watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      if (proc::stop_requested().load()) {  // asked during the evaluation, or during the step before it
        logging::warn(message_);
        return;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  std::string message_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watcher_;  // last: starts once the members it reads exist
};

}  // namespace

double TrainingEvals::run(JepaModel& model, const std::vector<std::size_t>& due, std::int64_t done, std::int64_t ipe,
                          RunDir& run, ProgressLog& progress) {
  if (!evaluation_ || due.empty()) return 0.0;
  progress.end_line();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<EvalResult> results;
  {
    const StopNotice notice("stopping: the evaluation of step " + std::to_string(done) + " runs to its end first "
                            "(a second Ctrl-C ends the process at once; --resume continues from the last "
                            "checkpoint)");
    results =
        evaluation_->run({{"target", &model.target_encoder()}, {"context", &model.encoder()}}, due);
  }
  for (const EvalResult& er : results) {
    nlohmann::json rec = {{"step", done}, {"epoch", done / ipe}};
    rec.update(er.to_json());
    run.append_jsonl("eval.jsonl", rec);
    run.scalars(done, eval_scalars(rec, labels_.at(er.where)));
    last_[er.where] = rec;
    std::string line = "eval step " + std::to_string(done) + " " + er.evaluator + " (" + er.features + ", " +
                       er.encoder + " encoder):";
    for (const char* k : {"top1", "top1_1pct", "top1_10pct"}) {
      if (auto it = er.trained.find(k); it != er.trained.end()) {
        line += std::string(" ") + k + " " + fmt_double(it->second, 4);
        if (auto jt = er.random_init.find(k); jt != er.random_init.end()) {
          line += " (random init " + fmt_double(jt->second, 4) + ")";
        }
      }
    }
    logging::info(line);
    progress.status()["eval"][er.where] = er.trained;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.exclude(secs);
  progress.write_status();
  return secs;
}

}  // namespace ijepa::host
