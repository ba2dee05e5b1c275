#include "ijepa/host/run/trainer.hpp"

#include <unistd.h>

#include <cstring>
#include <optional>
#include <sstream>

#include <ATen/ATen.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/util/errors.hpp"
#include "ijepa/host/run/run_stages.hpp"
#include "ijepa/host/run/training_data.hpp"
#include "ijepa/host/util/cuda_info.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

std::atomic<bool>& stop_requested() { return proc::stop_requested(); }

namespace {

// What every rank of a launch must agree on: the resolved config but for the keys that may differ per machine (where
// the data sits, loader and compute threads, TensorBoard, which only rank 0 writes, the device's index), and what
// each rank found in its data.
nlohmann::json launch_view(const nlohmann::json& resolved, const TrainingData& data) {
  nlohmann::json v = resolved;
  for (const char* k : {"root", "val_root", "file_list", "cache_dir", "workers"}) v["data"].erase(k);
  for (const char* k : {"tensorboard", "threads"}) v["train"].erase(k);
  v.erase("description");
  // The device's kind must agree; its index may be the rank's own (--set train.device=cuda:$LOCAL_RANK).
  if (auto d = v["train"].find("device"); d != v["train"].end() && d->is_string()) {
    const std::string dev = d->get<std::string>();
    *d = dev.substr(0, dev.find(':'));
  }
  v["data"]["images found"] = data.dataset().size();
  v["data"]["steps per epoch"] = data.steps_per_epoch();
  return v;
}

// value_at(j, "a.b.c") -> that value as JSON text, or "absent".
std::string value_at(const nlohmann::json& j, const std::string& dotted) {
  try {
    const nlohmann::json::json_pointer ptr = dotted_to_pointer(dotted);
    return j.contains(ptr) ? j.at(ptr).dump() : "absent";
  } catch (const std::exception&) {
    return "absent";
  }
}

// Distributed: a rank started with another config (a --set on one node's command line, a stale copy of the file)
// would step with other hyperparameters, or issue other collectives, while config.resolved.json records rank 0's.
// Rank 0's view goes to every rank; each compares it with its own. Returns this rank's one-line error ("" when it
// agrees with rank 0); check_same_start tells every rank whether any differed.
std::string differs_from_rank0(ProcessGroup& pg, const nlohmann::json& resolved, const TrainingData& data) {
  const std::string text = launch_view(resolved, data).dump();
  at::Tensor len = at::full({1}, static_cast<std::int64_t>(text.size()), at::TensorOptions().dtype(at::kLong));
  pg.broadcast({len}, 0, "the config check");
  at::Tensor bytes = at::zeros({len.item<std::int64_t>()}, at::TensorOptions().dtype(at::kByte));
  if (pg.rank() == 0) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  pg.broadcast({bytes}, 0, "the config check");
  const std::string theirs_text(static_cast<const char*>(bytes.data_ptr()), static_cast<std::size_t>(bytes.numel()));
  if (pg.rank() == 0 || theirs_text == text) return "";
  const nlohmann::json mine = nlohmann::json::parse(text);
  const nlohmann::json theirs = nlohmann::json::parse(theirs_text, nullptr, /*allow_exceptions=*/false);
  const std::string key = first_difference(theirs, mine);
  return "distributed launch: rank " + std::to_string(pg.rank()) + " was started with another config than rank 0: '" +
         key + "' is " + value_at(mine, key) + " here, " + value_at(theirs, key) + " on rank 0 (every rank must run "
         "the same CONFIG and --set, and find the same data); nothing was trained";
}

// Distributed: every rank must resume from the same step (a rank that sees another checkpoint would silently
// diverge).
// It also carries whether rank 0 failed to load train.init_from's weights, so the other ranks say that rather than
// a broken connection.
void check_same_start(ProcessGroup& pg, std::int64_t start_step, const fs::path& out, bool init_failed,
                      const std::string& config_error) {
  const bool config_differs = !config_error.empty();
  const at::Tensor st = at::full({4}, 0.0, at::TensorOptions().dtype(at::kDouble));
  st[0] = static_cast<double>(start_step);
  st[1] = static_cast<double>(start_step) * static_cast<double>(start_step);
  st[2] = init_failed ? 1.0 : 0.0;
  st[3] = config_differs ? 1.0 : 0.0;
  pg.allreduce_sum(st, "the start check");
  if (const auto n = static_cast<long long>(st[3].item<double>()); n > 0) {
    throw ConfigError(config_differs ? config_error
                                     : "distributed launch: " + std::to_string(n) + " rank(s) were started with "
                                       "another config than rank 0's (their error lines say where); nothing was "
                                       "trained");
  }
  if (st[2].item<double>() > 0 && !init_failed) {
    throw ConfigError("train.init_from: rank 0 could not load the weights (its own error line says why)");
  }
  const double mean = st[0].item<double>() / pg.world(), sq = st[1].item<double>() / pg.world();
  if (sq - mean * mean > 0.25) {
    throw ConfigError("--resume: the ranks found different checkpoints in " + (out / "checkpoints").string() +
                      " (this rank: step " + std::to_string(start_step) + "); every rank must see the same run "
                      "directory (a shared file system)");
  }
}

nlohmann::json running_status(RunDir* run, const StepPlan& plan, const fs::path& out, int world) {
  nlohmann::json status = run != nullptr ? run->read_status() : nlohmann::json::object();
  // seconds_total: the sessions that ended (completed or interrupted) so far; a run from before it existed counts
  // its last session's seconds.
  if (!status.contains("seconds_total") && status.contains("seconds") && status["seconds"].is_number()) {
    status["seconds_total"] = status["seconds"];
  }
  for (const char* k : {"error", "failed_step", "ended", "final_loss", "seconds"}) status.erase(k);
  status["state"] = "running";
  status["step"] = plan.start;
  status["total_steps"] = plan.end;
  status["steps_per_epoch"] = plan.ipe;
  status["run_dir"] = fs::absolute(out).string();
  status["pid"] = static_cast<long long>(::getpid());
  status["host"] = host_name();  // with pid: a reader on this host can tell a writer that was killed outright
  status["world_size"] = world;
  return status;
}

// The parts of a run the step loop works on.
struct Run {
  JepaModel& model;
  TrainingData& data;
  TrainingEvals& evals;
  const StepPlan& plan;
  RunDir* dir;  // null on ranks > 0
  ProgressLog& progress;
  Checkpointer& checkpoints;
  LossWindow losses;
  std::int64_t step = 0;  // the step being taken
  std::optional<double> earlier_final_loss{};  // of the session this one resumes (kept when this one takes no step)
  bool finishing = false;  // past the step loop: a failure now is at the final checkpoint of step `step`
};

// The step loop: a step, then at sync points the losses, the log line, the checkpoint and the due evaluations.
// Alone, a signal is read before each step (a host flag, no synchronisation). Distributed, the stop wishes ride in
// each step's loss all-reduce and are read at the sync points every rank shares, so every rank stops at the same
// step boundary, at most log_every steps after the signal. Returns the first step not taken.
std::int64_t step_loop(Run& r, std::optional<std::vector<Batch>> first, bool distributed, double& eval_seconds) {
  std::int64_t& step = r.step;
  for (step = r.plan.start; step < r.plan.end; ++step) {
    if (distributed ? r.losses.stop_seen() : stop_requested().load()) break;
    std::vector<Batch> b = first ? std::move(*first) : r.data.next(step);  // train.accum_steps micro-batches
    first.reset();
    const JepaModel::StepResult res = r.model.train_step(b, step, stop_requested().load(), r.plan.log_due(step + 1));
    r.losses.push(step, res.lr, res.loss, res.stop);
    r.progress.images(r.data.images_per_step());
    const std::int64_t done = step + 1;
    const std::vector<std::size_t> due = r.plan.evals_due(r.evals.specs(), done);
    const bool log_due = r.plan.log_due(done), save_due = r.plan.save_due(done);
    // Sync points, the same on every rank: nothing is logged, saved or evaluated from weights a non-finite loss made.
    if (log_due || save_due || !due.empty()) r.losses.flush(r.checkpoints.last_saved());
    if (log_due) r.progress.log_step(done, b.front().epoch, res, r.losses, r.data.images_replaced());
    if (save_due) r.checkpoints.save(r.model, done, r.plan.keep_epoch_copy(done), r.losses.recent());
    if (r.dir != nullptr) eval_seconds += r.evals.run(r.model, due, done, r.plan.ipe, *r.dir, r.progress);
  }
  r.losses.flush(r.checkpoints.last_saved());  // the steps since the last sync point (an interruption), before the
                                               // final checkpoint
  return step;
}

TrainSummary finish(Run& r, std::int64_t step, double eval_seconds) {
  const std::int64_t skipped = r.data.images_replaced();  // of the batches the steps used
  r.data.stop();
  r.progress.end_line();
  if (step != r.checkpoints.last_saved()) r.checkpoints.save(r.model, step, false, r.losses.recent());
  r.checkpoints.check_run_dir();
  TrainSummary s;
  s.steps = step;
  s.epochs = static_cast<double>(step) / static_cast<double>(r.plan.ipe);
  if (step > r.plan.start && !r.losses.empty()) {  // a session stopped before its first step has no loss (not 0)
    s.first_loss = r.progress.first_loss();
    s.first_loss_steps = r.progress.first_loss_steps();
    if (s.first_loss_steps == 0) {  // stopped before the run's first log step: the losses it has
      s.first_loss = r.losses.mean();
      s.first_loss_steps = r.losses.mean_count();
    }
    s.final_loss = r.losses.final_mean();
    s.final_loss_steps = r.losses.final_count();
  }
  s.seconds = r.progress.seconds();
  s.eval_seconds = eval_seconds;
  const double train_secs = s.seconds - eval_seconds;
  s.images_per_s = train_secs > 0 ? static_cast<double>((step - r.plan.start) * r.data.images_per_step()) / train_secs : 0.0;
  s.state = step < r.plan.end ? "interrupted" : "completed";
  s.evals = r.evals.last();
  nlohmann::json& st = r.progress.status();
  st["state"] = s.state;
  st["step"] = step;
  st["ended"] = utc_now();
  if (s.final_loss) {
    st["final_loss"] = *s.final_loss;
  } else if (r.earlier_final_loss) {
    st["final_loss"] = *r.earlier_final_loss;  // no step in this session: the loss the run ended with before
  } else {
    st["final_loss"] = nullptr;  // no step at all: no loss (not 0)
  }
  st["seconds"] = s.seconds;
  const nlohmann::json earlier = st.value("seconds_total", nlohmann::json(0.0));
  st["seconds_total"] = (earlier.is_number() ? earlier.get<double>() : 0.0) + s.seconds;
  st["images_skipped"] = skipped;
  r.progress.write_status();
  if (skipped > 0) logging::warn(std::to_string(skipped) + " batch slots used a replacement for an unreadable image");
  if (r.dir != nullptr) {
    std::ostringstream secs;
    secs.precision(4);
    secs << s.seconds;
    logging::info("run " + s.state + " at step " + std::to_string(step) + " (" + secs.str() + " s)");
  }
  return s;
}

void record_failure(Run& r, const std::exception& e) {
  r.progress.end_line();
  r.data.stop();
  try {
    const std::int64_t failed_step =
        r.losses.failed_step() > 0 ? r.losses.failed_step() : r.finishing ? r.step : r.step + 1;
    const std::string error = error_line(e);  // one line: torch's backtrace stays out of status.json
    // log.txt ends with why (the console gets the error from the command, once).
    logging::write_files(logging::Level::error, "run failed at step " + std::to_string(failed_step) + ": " + error);
    nlohmann::json& st = r.progress.status();
    st["state"] = "failed";
    st["error"] = error;
    st["failed_step"] = failed_step;
    st["ended"] = utc_now();
    r.progress.write_status();
  } catch (...) {  // keep the original error
  }
}

// On --resume with train.threads 0 (all cores): the intra-op thread count the run started with (env.json), not
// this session's default, since another count changes the sums' rounding and the resumed run would not continue the
// uninterrupted one bit for bit (a sweep resumed with another --jobs, OMP_NUM_THREADS set otherwise).
// Returns what it did, for the run's log ("" when nothing changed).
std::string keep_thread_count(const nlohmann::json& train, const fs::path& run_dir) {
  if (train.at("threads").get<std::int64_t>() != 0) return "";  // a fixed count cannot change on resume
  nlohmann::json env;
  try {
    env = load_json_file(run_dir / "env.json");
  } catch (const std::exception&) {
    return "";  // not recorded: this session's default, as before
  }
  if (!env.is_object() || !env.contains("threads") || !env["threads"].is_number_integer()) return "";
  const int recorded = env["threads"].get<int>(), now = at::get_num_threads();
  if (recorded < 1 || recorded == now) return "";
  at::set_num_threads(recorded);
  return "resume: " + std::to_string(recorded) + " intra-op threads, as the run started with (train.threads 0 "
         "would give " + std::to_string(now) + " here, and results that differ from an uninterrupted run in the "
         "last bits)";
}

struct FileSinkScope {
  explicit FileSinkScope(const RunDir* run) {
    if (run != nullptr) logging::add_file_sink((run->root() / "log.txt").string());
  }
  ~FileSinkScope() { logging::clear_file_sinks(); }
};

}  // namespace

TrainSummary run_training(const nlohmann::json& resolved, PluginHost& host, const TrainOptions& opts) {
  const auto& train = resolved.at("train");
  validate_train(resolved);
  const std::shared_ptr<ProcessGroup> pg = opts.pg;  // distributed: rank 0 writes, the others train
  const int rank = pg ? pg->rank() : 0, world = pg ? pg->world() : 1;
  const bool writer = rank == 0;
  // Signals first, so an interrupted start cleans up after itself; a second Ctrl-C ends the process at once.
  const proc::StopSignals signals(proc::StopSignals::Options{true, true});

  // Everything that can fail on bad input happens before the run directory is touched.
  RunTarget target = check_run_target(resolved, host.registry(), opts, world, writer);
  const bool cuda = train.at("device").get<std::string>().rfind("cuda", 0) == 0;  // pinned batches, as officially
  TrainingData data(resolved, host.registry(), rank, world, /*pin_memory=*/cuda);
  JepaModel model(resolved, host.registry());
  TrainingEvals evals(resolved, host.registry(), model, writer);
  model.set_schedules(make_schedules(train, data.steps_per_epoch()));
  const std::int64_t start = target.resume ? target.resume->step : 0;
  const StepPlan plan = make_step_plan(train, data.steps_per_epoch(), start);
  // Every rank that can read the run's env.json (rank 0 always); the note goes to rank 0's log.
  const std::string threads_note = target.resume ? keep_thread_count(train, opts.out) : std::string();
  std::vector<double> recent_losses;  // the loss window the checkpoint carries (none in files from before it did)
  if (target.resume) {
    model.load(target.resume->weights, target.resume->trainer, start, (opts.out / "checkpoints" / target.resume->name).string());
    if (const auto it = target.resume->trainer.find("losses"); it != target.resume->trainer.end()) {
      const at::Tensor l = it->second.to(at::kDouble).contiguous().reshape({-1});
      recent_losses.assign(l.data_ptr<double>(), l.data_ptr<double>() + l.numel());
    }
    target.resume.reset();
  }
  // train.init_from: a new run (not a resumed one) starts from other weights; rank 0 loads them and the start's
  // broadcast gives them to every rank.
  std::string init_note, init_error;
  if (start == 0 && writer) {
    try {
      if (const fs::path f = init_from_file(train); !f.empty()) {
        std::error_code ec;
        const fs::path file = fs::weakly_canonical(f, ec);  // a run's latest.safetensors is a link: its step file
        const std::string name = ec ? f.string() : file.string();
        StringMap meta;
        const TensorMap w = read_safetensors(name, &meta);
        verify_checksums(w, meta, name);
        require_finite(w, name);
        init_note = "started from " + name + ": " + model.init_from(w, name);
      }
    } catch (const std::exception& e) {
      const std::string what = e.what();
      init_error = what.rfind("train.init_from: ", 0) == 0 ? what : "train.init_from: " + what;
    }
  }
  if (pg) check_same_start(*pg, start, opts.out, !init_error.empty(), differs_from_rank0(*pg, resolved, data));
  if (!init_error.empty()) throw ConfigError(init_error);
  if (start > plan.end) {  // a "completed" run at step 11 whose config says 5 would contradict its own record
    const std::int64_t max_steps = train.at("max_steps").get<std::int64_t>();
    throw ConfigError("--resume: " +
                      (max_steps > 0 && max_steps == plan.end
                           ? "train.max_steps " + std::to_string(max_steps) + " ends before the step the run has " +
                                 "reached (" + std::to_string(start) + "); raise it, or set 0 for the whole run"
                           : "the run's " + std::to_string(plan.end) + " steps (train.epochs x the data's steps per "
                             "epoch) end before the step it has reached (" + std::to_string(start) + "): the data "
                             "has fewer images than when it trained"));
  }
  if (pg) model.distribute(pg, opts.bucket_bytes);
  // Pre-flight: the first batch must decode and mask before the run directory exists.
  data.start(start);
  std::optional<std::vector<Batch>> first;
  if (start < plan.end) first = data.next(start);

  std::optional<RunDir> dir;
  if (writer) dir = open_run_dir(resolved, host, opts, start, plan.end, target.lock);
  const FileSinkScope sink(dir ? &*dir : nullptr);
  if (writer) {
    logging::info("run " + opts.out.string() + ": " + data.dataset().describe() + "; " + std::to_string(plan.ipe) +
                  " steps/epoch, steps " + std::to_string(start) + ".." + std::to_string(plan.end) + ", " +
                  std::to_string(model.parameter_count(true)) + " trainable parameters, device " + model.device().str() +
                  (pg ? ", " + std::to_string(world) + " ranks (" + pg->backend() + ", " +
                            std::to_string(model.reducer()->bucket_count()) + " gradient buckets)"
                      : std::string()));
    if (!init_note.empty()) logging::info("train.init_from: " + init_note);
    if (!threads_note.empty()) logging::info(threads_note);
    if (start == 0) {
      for (const std::string& w : train_warnings(train)) logging::warn(w);
    }
  }
  std::optional<double> earlier_final_loss;
  if (dir) {
    const nlohmann::json before = dir->read_status();
    if (before.is_object() && before.contains("final_loss") && before["final_loss"].is_number()) {
      earlier_final_loss = before["final_loss"].get<double>();
    }
  }
  ProgressLog progress(dir ? &*dir : nullptr, plan, data.images_per_step(), opts.quiet,
                       running_status(dir ? &*dir : nullptr, plan, opts.out, world));
  progress.write_status();
  Checkpointer checkpoints(dir ? &*dir : nullptr, resolved, plan.ipe, start);
  Run run{model, data, evals, plan, dir ? &*dir : nullptr, progress, checkpoints, LossWindow(plan.log_every)};
  run.earlier_final_loss = earlier_final_loss;
  run.losses.restore(recent_losses);
  double eval_seconds = dir ? evals.catch_up(model, plan, *dir, progress) : 0.0;
  std::int64_t step = start;
  TrainSummary summary;
  try {
    if (start > 0 && plan.keep_epoch_copy(start)) checkpoints.restore_epoch_copy(start);
    step = step_loop(run, std::move(first), pg != nullptr, eval_seconds);
    run.finishing = true;
    // The final (or interrupt) checkpoint and status: a failure there (a full disk) is recorded like one in the loop.
    summary = finish(run, step, eval_seconds);
  } catch (const c10::OutOfMemoryError& e) {  // one line that says whose memory ran out and what to change
    const std::runtime_error oom(
        util::out_of_memory_message(model.device().str(), run.finishing ? run.step : run.step + 1,
                                    e.what_without_backtrace()));
    record_failure(run, oom);
    throw oom;
  } catch (const std::exception& e) {
    record_failure(run, e);
    throw;
  }
  summary.run_dir = opts.out;
  return summary;
}

}  // namespace ijepa::host
