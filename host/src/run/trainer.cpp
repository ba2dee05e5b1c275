#include "run/trainer.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <deque>
#include <optional>
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "build_config.hpp"
#include "config/experiment.hpp"
#include "config/json_file.hpp"
#include "eval/evaluation.hpp"
#include "ijepa/sdk/version.hpp"
#include "log/logging.hpp"
#include "plugins/abi_check.hpp"
#include "util/cuda_info.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {

std::string fmt_double(double v, int prec = 4) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

at::Device parse_device(const std::string& s) {
  if (s == "cpu") return at::Device(at::kCPU);
  if (s.rfind("cuda", 0) == 0) {
    if (!util::cuda_available()) {
      throw ConfigError("train.device: '" + s + "' requested but CUDA is not available on this machine");
    }
    return at::Device(s);
  }
  throw ConfigError("train.device: expected cpu, cuda or cuda:N, got '" + s + "'");
}

// RAII bf16 autocast for one device type (a no-op when disabled), around the forward pass only, as
// torch.autocast is used in the official train.py (backward runs outside it).
class AutocastGuard {
 public:
  AutocastGuard(bool on, at::DeviceType type) : on_(on), type_(type) {
    if (!on_) return;
    prev_enabled_ = at::autocast::is_autocast_enabled(type_);
    prev_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_enabled(type_, true);
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(type_, prev_enabled_);
    at::autocast::set_autocast_dtype(type_, prev_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_;
  at::DeviceType type_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

std::vector<at::Tensor> masks_to(const std::vector<at::Tensor>& m, const at::Device& d) {
  std::vector<at::Tensor> out;
  out.reserve(m.size());
  for (const auto& t : m) out.push_back(t.to(d, /*non_blocking=*/true));
  return out;
}

}  // namespace

JepaModel::JepaModel(const nlohmann::json& resolved, const Registry& registry, int rank) : cfg_(resolved) {
  const auto& train = cfg_.at("train");
  const auto& comps = cfg_.at("components");
  const auto threads = train.at("threads").get<std::int64_t>();
  if (threads > 0) at::set_num_threads(static_cast<int>(threads));
  device_ = parse_device(train.at("device").get<std::string>());
  autocast_ = device_.is_cuda() ? train.at("bf16").get<bool>() : train.at("cpu_bf16").get<bool>();

  // Image size, patch size, grid and seed, checked against each other (shared with the evaluation code).
  ctx_ = experiment_context(cfg_);
  const auto& enc_cfg = comps.at("encoder");

  at::manual_seed(ctx_.seed);
  encoder_ = registry.make_encoder(enc_cfg, ctx_, "components.encoder");
  {
    // The official order is encoder, predictor, then a deep copy for the target: building the target must not
    // consume random numbers, so the predictor's init is the same as in the reference for a given seed.
    auto gen = at::detail::getDefaultCPUGenerator();
    const at::Tensor state = gen.get_state();
    target_ = registry.make_encoder(enc_cfg, ctx_, "components.encoder");
    gen.set_state(state);
  }
  {
    at::NoGradGuard no_grad;
    auto src = encoder_->named_parameters(true);
    auto dst = target_->named_parameters(true);
    for (auto& p : dst) {
      p.value().copy_(src[p.key()]);
      p.value().set_requires_grad(false);
    }
  }
  const sdk::PatchGrid g = encoder_->grid();
  if (g.h != ctx_.grid.h || g.w != ctx_.grid.w) {
    throw ConfigError("components.encoder: its patch grid " + std::to_string(g.h) + "x" + std::to_string(g.w) +
                      " does not match data.image_size / patch_size = " + std::to_string(ctx_.grid.h) + "x" +
                      std::to_string(ctx_.grid.w));
  }
  ctx_.encoder_dim = encoder_->embed_dim();
  ctx_.encoder_heads = encoder_->num_heads();
  ctx_.encoder_depth = encoder_->depth();
  predictor_ = registry.make_predictor(comps.at("predictor"), ctx_, "components.predictor");
  loss_ = registry.make_loss(comps.at("loss"), ctx_, "components.loss");
  {
    // Each rank samples its own masks: rank r > 0 gets a seed derived from the run seed and r.
    sdk::BuildContext mctx = ctx_;
    if (rank > 0) mctx.seed = ctx_.seed + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(rank);
    masker_ = registry.make_masker(comps.at("masker"), mctx, "components.masker");
  }
  const std::int64_t want = loss_->prediction_dim(ctx_);
  const std::int64_t have = predictor_->output_dim();
  if ((want == 0 ? ctx_.encoder_dim : want) != have) {
    throw ConfigError("components.predictor: output width " + std::to_string(have) + " but loss " + loss_.type +
                      " expects " + std::to_string(want == 0 ? ctx_.encoder_dim : want) +
                      " (set components.predictor.output_dim)");
  }

  encoder_->to(device_);
  target_->to(device_);
  predictor_->to(device_);

  // Four groups (official init_opt): decay = no "bias" in the name and ndim != 1.
  ParamGroup enc_wd{"encoder", true, {}}, pred_wd{"predictor", true, {}};
  ParamGroup enc_no{"encoder_no_wd", false, {}}, pred_no{"predictor_no_wd", false, {}};
  for (const auto& p : encoder_->named_parameters(true)) {
    const bool decay = p.key().find("bias") == std::string::npos && p.value().dim() != 1;
    (decay ? enc_wd : enc_no).params.push_back({"encoder." + p.key(), p.value()});
  }
  for (const auto& p : predictor_->named_parameters(true)) {
    const bool decay = p.key().find("bias") == std::string::npos && p.value().dim() != 1;
    (decay ? pred_wd : pred_no).params.push_back({"predictor." + p.key(), p.value()});
  }
  opt_ = std::make_unique<AdamW>(std::vector<ParamGroup>{enc_wd, pred_wd, enc_no, pred_no});
  auto src = encoder_->named_parameters(true);
  for (const auto& p : target_->named_parameters(true)) {
    tgt_params_.push_back(p.value());
    enc_params_.push_back(src[p.key()]);
  }
}

std::int64_t JepaModel::parameter_count(bool trainable_only) const {
  std::int64_t n = 0;
  for (const auto* m : {static_cast<const torch::nn::Module*>(encoder_.ptr.get()),
                        static_cast<const torch::nn::Module*>(predictor_.ptr.get())}) {
    for (const auto& p : m->parameters(true)) {
      if (!trainable_only || p.requires_grad()) n += p.numel();
    }
  }
  return n;
}

void JepaModel::distribute(std::shared_ptr<ProcessGroup> pg, std::int64_t bucket_bytes) {
  pg_ = std::move(pg);
  std::vector<at::Tensor> all, trainable;
  for (const auto* m : {static_cast<const torch::nn::Module*>(encoder_.ptr.get()),
                        static_cast<const torch::nn::Module*>(predictor_.ptr.get()),
                        static_cast<const torch::nn::Module*>(target_.ptr.get())}) {
    for (const auto& p : m->parameters(true)) all.push_back(p);
    for (const auto& b : m->buffers(true)) all.push_back(b);
  }
  pg_->broadcast(all, 0, "the initial weights' broadcast");
  for (const auto* m : {static_cast<const torch::nn::Module*>(encoder_.ptr.get()),
                        static_cast<const torch::nn::Module*>(predictor_.ptr.get())}) {
    for (const auto& p : m->parameters(true)) {
      if (p.requires_grad()) trainable.push_back(p);
    }
  }
  reducer_ = std::make_unique<GradReducer>(pg_, trainable, bucket_bytes);
}

void JepaModel::ema_update(double m) {
  at::NoGradGuard no_grad;
  at::_foreach_mul_(tgt_params_, m);
  at::_foreach_add_(tgt_params_, enc_params_, 1.0 - m);
}

JepaModel::StepResult JepaModel::train_step(const Batch& batch, std::int64_t step, bool stop_wanted) {
  StepResult r;
  const std::int64_t s = step + 1;
  r.lr = sched_.lr(s);
  r.wd = sched_.wd(s);
  encoder_->train();
  predictor_->train();
  const at::Tensor images = batch.images.to(device_, /*non_blocking=*/true);
  const std::vector<at::Tensor> mctx = masks_to(batch.masks.context, device_);
  const std::vector<at::Tensor> mtgt = masks_to(batch.masks.target, device_);
  if (mctx.empty() || mtgt.empty()) throw TrainingError("masker " + masker_.type + " returned no context or target masks");
  r.k_enc = mctx.front().size(1);
  r.k_pred = mtgt.front().size(1);

  const sdk::LossOutput out = forward_loss(images, mctx, mtgt);
  // No host read of the loss here (item() would wait for the GPU every step): the caller reads a window at once.
  r.loss = out.loss.detach().to(at::kDouble);
  if (pg_) {
    // The mean loss over ranks, before backward: every rank reads the same values, so a non-finite loss stops all
    // at the same step. The stop wishes travel in the same collective.
    at::Tensor l = at::empty({2}, r.loss.options());
    l[0].copy_(r.loss);
    l[1].fill_(stop_wanted ? 1.0 : 0.0);
    pg_->allreduce_sum(l, "the loss all-reduce of step " + std::to_string(s));
    r.loss = l[0] / pg_->world();
    r.stop = l[1];
    reducer_->prepare();
  }
  out.loss.backward();
  if (reducer_) reducer_->finish();
  opt_->step(r.lr, r.wd);
  opt_->zero_grad();
  r.ema_m = sched_.ema(step);
  ema_update(r.ema_m);
  r.extra = out.metrics;
  return r;
}

sdk::LossOutput JepaModel::forward_loss(const at::Tensor& images, const std::vector<at::Tensor>& mctx,
                                        const std::vector<at::Tensor>& mtgt) {
  AutocastGuard ac(autocast_, device_.type());
  at::Tensor h;
  if (loss_->needs_target_encoder()) {
    at::NoGradGuard no_grad;
    h = target_.call([&](sdk::Encoder& e) { return e.encode(images, nullptr); });
  }
  at::Tensor z = encoder_.call([&](sdk::Encoder& e) { return e.encode(images, &mctx); });
  z = predictor_.call([&](sdk::Predictor& p) { return p.predict(z, mctx, mtgt); });
  sdk::LossInput in;
  in.prediction = z;
  in.target_tokens = h;
  in.images = images;
  in.masks_ctx = &mctx;
  in.masks_tgt = &mtgt;
  in.patch_size = ctx_.patch_size;
  return loss_.call([&](sdk::Loss& l) { return l.compute(in); });
}

double JepaModel::eval_loss(const at::Tensor& images_cpu, const sdk::MaskSet& masks) {
  at::NoGradGuard no_grad;
  encoder_->eval();
  predictor_->eval();
  const at::Tensor images = images_cpu.to(device_);
  return forward_loss(images, masks_to(masks.context, device_), masks_to(masks.target, device_)).loss.item<double>();
}

TensorMap JepaModel::weights() const {
  TensorMap w = module_state(*encoder_.ptr, "encoder.");
  TensorMap p = module_state(*predictor_.ptr, "predictor.");
  TensorMap t = module_state(*target_.ptr, "target_encoder.");
  w.insert(p.begin(), p.end());
  w.insert(t.begin(), t.end());
  return w;
}

TensorMap JepaModel::trainer_state() const {
  TensorMap out;
  for (const auto& [k, v] : opt_->state()) out["opt." + k] = v.detach().to(at::kCPU).clone();
  out["step"] = at::full({}, opt_->step_count(), at::kLong);
  return out;
}

void JepaModel::load(const TensorMap& weights, const TensorMap& trainer, std::int64_t step, const std::string& origin) {
  load_module_state(*encoder_.ptr, weights, "encoder.", origin);
  load_module_state(*predictor_.ptr, weights, "predictor.", origin);
  load_module_state(*target_.ptr, weights, "target_encoder.", origin);
  std::vector<std::pair<std::string, at::Tensor>> st;
  for (const auto& [k, v] : trainer) {
    if (k.rfind("opt.", 0) == 0) st.emplace_back(k.substr(4), v.to(device_));
  }
  try {
    opt_->load_state(st, step);
  } catch (const std::exception& e) {
    throw std::runtime_error(origin + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------------------------

namespace {

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

void validate_train(const nlohmann::json& train) {
  auto positive = [&](const char* key) {
    if (!(train.at(key).get<double>() > 0)) throw ConfigError(std::string("train.") + key + ": must be > 0");
  };
  positive("epochs");
  positive("batch_size");
  positive("log_every");
  positive("ipe_scale");
  for (const char* k : {"lr", "start_lr", "final_lr", "weight_decay", "final_weight_decay", "warmup_epochs"}) {
    if (train.at(k).get<double>() < 0) throw ConfigError(std::string("train.") + k + ": must be >= 0");
  }
  for (const char* k : {"max_steps", "checkpoint_every", "keep_epoch_checkpoints", "threads"}) {
    if (train.at(k).get<std::int64_t>() < 0) throw ConfigError(std::string("train.") + k + ": must be >= 0");
  }
}

nlohmann::json env_json(const PluginHost& host, const TrainOptions& opts) {
  nlohmann::json env;
  env["workbench"] = IJEPA_WORKBENCH_VERSION;
  env["sdk"] = IJEPA_SDK_VERSION_STRING;
  env["torch"] = TORCH_VERSION;
  env["fingerprint"] = describe_abi(host_abi_info());
  env["cuda"] = util::cuda_summary();
  env["torch_config"] = at::show_config();
  env["threads"] = at::get_num_threads();
  char hostname[256] = {};
  ::gethostname(hostname, sizeof(hostname) - 1);
  env["hostname"] = hostname;
  env["started"] = utc_now();
  env["argv"] = opts.argv;
  env["plugins"] = nlohmann::json::array();
  for (const auto& p : host.loaded()) {
    env["plugins"].push_back({{"id", p.plugin_id}, {"version", p.plugin_version}, {"path", p.path}, {"sha256", p.sha256}});
  }
  return env;
}

std::string eta_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

extern "C" void on_stop_signal(int sig) {
  stop_requested().store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

}  // namespace

namespace {

// Keys a resumed run may change: they do not alter the maths of the steps already taken.
const char* const kResumeMutable[] = {"train.max_steps", "train.log_every", "data.workers"};

bool resume_may_change(const std::string& key) {
  for (const char* k : kResumeMutable) {
    if (key == k) return true;
  }
  return false;
}

// Exclusive lock on a run directory for the life of the process (fresh runs lock their temp directory,
// and the lock moves with the rename).
class RunLock {
 public:
  RunLock() = default;
  explicit RunLock(const fs::path& dir) {
    fd_ = ::open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      throw ConfigError(dir.string() + ": the run is in use by another ijepa process");
    }
  }
  RunLock(RunLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  RunLock& operator=(RunLock&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~RunLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

}  // namespace

TrainSummary run_training(const nlohmann::json& resolved_in, PluginHost& host, const TrainOptions& opts) {
  nlohmann::json resolved = resolved_in;
  const auto& train = resolved.at("train");
  validate_train(train);
  const fs::path out = opts.out;
  std::error_code ec;
  // Distributed: rank 0 writes the run directory, checkpoints, metrics and evaluations; the others train.
  const std::shared_ptr<ProcessGroup> pg = opts.pg;
  const int rank = pg ? pg->rank() : 0;
  const int world = pg ? pg->world() : 1;
  const bool writer = rank == 0;

  // Signals first, so an interrupted start cleans up after itself.
  stop_requested().store(false);
  auto prev_int = std::signal(SIGINT, on_stop_signal);
  auto prev_term = std::signal(SIGTERM, on_stop_signal);
  struct SignalReset {
    decltype(prev_int) i, t;
    ~SignalReset() {
      std::signal(SIGINT, i);
      std::signal(SIGTERM, t);
    }
  } signal_reset{prev_int, prev_term};

  // Everything that can fail on bad input happens before the run directory is touched.
  RunLock lock;
  std::optional<Checkpoint> resume_ckpt;
  if (opts.resume) {
    if (!fs::exists(out / "config.resolved.json", ec)) {
      throw ConfigError("--resume: " + out.string() + " is not a run directory (no config.resolved.json)");
    }
    if (writer) lock = RunLock(out);
    nlohmann::json old = load_json_file(out / "config.resolved.json");
    fill_added_defaults(old, host.registry());  // keys added since the run was written count as their defaults
    for (const char* k : kResumeMutable) {  // compare without the keys a resume may change
      const auto ptr = dotted_to_pointer(k);
      if (old.contains(ptr) && resolved.contains(ptr)) old[ptr] = resolved[ptr];
    }
    const std::string diff = first_difference(old, resolved);
    if (!diff.empty() && !resume_may_change(diff)) {
      throw ConfigError("--resume: the config differs from " + (out / "config.resolved.json").string() + " at '" +
                        diff + "' (resume needs the same config; start a new run with another --out)");
    }
    const nlohmann::json old_status = RunDir(out).read_status();
    const auto old_world = old_status.is_object() ? old_status.value("world_size", 1) : 1;
    if (old_world != world) {
      throw ConfigError("--resume: " + out.string() + " was trained on " + std::to_string(old_world) +
                        " rank(s), this launch has " + std::to_string(world) +
                        " (the world size sets the data order and steps per epoch; resume with the same number)");
    }
    resume_ckpt = read_latest(out / "checkpoints");
    if (!resume_ckpt) {
      for (const auto& e : fs::directory_iterator(out / "checkpoints", ec)) {
        if (e.path().filename().string().rfind("step_", 0) == 0) {
          throw ConfigError("--resume: " + (out / "checkpoints").string() +
                            " has checkpoint files but no LATEST pointer; restore it or start a new run");
        }
      }
    }
  } else if (!writer) {
    // rank 0 checks and creates the run directory
  } else if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
    throw ConfigError(out.string() + " already exists (pass --resume to continue that run, or choose another --out)");
  } else {
    check_writable_parent(out);
  }
  auto dataset = open_dataset(resolved.at("data"), "train");
  JepaModel model(resolved, host.registry(), rank);
  // Evaluators: built (and their labelled splits opened) before the run directory exists, so bad input fails early.
  std::vector<EvaluatorSpec> eval_specs;
  const auto& eval_entries = resolved.at("components").at("evaluators");
  for (std::size_t i = 0; i < eval_entries.size(); ++i) {
    eval_specs.push_back(parse_evaluator(eval_entries[i], "components.evaluators." + std::to_string(i)));
  }
  std::unique_ptr<Evaluation> evaluation;
  if (!eval_specs.empty() && writer) {
    sdk::BuildContext ectx = model.context();
    ectx.encoder_dim = model.encoder()->embed_dim();
    ectx.encoder_heads = model.encoder()->num_heads();
    ectx.encoder_depth = model.encoder()->depth();
    evaluation = std::make_unique<Evaluation>(resolved, eval_specs, host.registry(), ectx, model.device());
  }

  DataLoaderOptions lo;
  const auto& data = resolved.at("data");
  lo.batch_size = train.at("batch_size").get<std::int64_t>();
  lo.image_size = data.at("image_size").get<std::int64_t>();
  const auto& cs = data.at("crop_scale");
  if (!cs.is_array() || cs.size() != 2 || !cs[0].is_number() || !cs[1].is_number())
    throw ConfigError("data.crop_scale: expected [lo, hi], got " + cs.dump());
  lo.crop_scale_lo = cs[0].get<double>();
  lo.crop_scale_hi = cs[1].get<double>();
  if (!(0 < lo.crop_scale_lo && lo.crop_scale_lo <= lo.crop_scale_hi && lo.crop_scale_hi <= 1.0))
    throw ConfigError("data.crop_scale: expected 0 < lo <= hi <= 1, got " + cs.dump());
  lo.hflip = data.at("hflip").get<bool>();
  lo.seed = resolved.at("seed").get<std::uint64_t>();
  lo.workers = std::max<std::int64_t>(1, data.at("workers").get<std::int64_t>());
  lo.limit = data.at("limit").get<std::int64_t>();
  lo.pin_memory = model.device().is_cuda();
  lo.masker_tag = "plugin " + model.masker().plugin_id + ": " + model.masker().type;
  lo.rank = rank;
  lo.world = world;
  const std::int64_t n_images = lo.limit > 0 ? std::min(lo.limit, dataset->size()) : dataset->size();
  // Steps per epoch: each rank takes every world-th image of the epoch's permutation (official DistributedSampler).
  const std::int64_t ipe = (n_images / world) / lo.batch_size;
  if (ipe < 1) {
    throw ConfigError("train.batch_size (" + std::to_string(lo.batch_size) + ") x " + std::to_string(world) +
                      " ranks is larger than the dataset (" + std::to_string(n_images) + " images)");
  }
  const Schedules sched = make_schedules(train, ipe);
  model.set_schedules(sched);
  const std::int64_t epochs = static_cast<std::int64_t>(std::ceil(train.at("epochs").get<double>()));
  std::int64_t end_step = static_cast<std::int64_t>(train.at("epochs").get<double>() * static_cast<double>(ipe));
  if (const auto ms = train.at("max_steps").get<std::int64_t>(); ms > 0) end_step = std::min(end_step, ms);

  std::int64_t start_step = 0;
  if (resume_ckpt) {
    model.load(resume_ckpt->weights, resume_ckpt->trainer, resume_ckpt->step,
               (out / "checkpoints" / resume_ckpt->name).string());
    start_step = resume_ckpt->step;
  }
  if (pg) {
    // Every rank must resume from the same step (a rank that sees another checkpoint would silently diverge).
    const at::Tensor st = at::full({2}, 0.0, at::TensorOptions().dtype(at::kDouble));
    st[0] = static_cast<double>(start_step);
    st[1] = static_cast<double>(start_step) * static_cast<double>(start_step);
    pg->allreduce_sum(st, "the resume-step check");
    const double mean = st[0].item<double>() / world, sq = st[1].item<double>() / world;
    if (sq - mean * mean > 0.25) {
      throw ConfigError("--resume: the ranks found different checkpoints in " + (out / "checkpoints").string() +
                        " (this rank: step " + std::to_string(start_step) + "); every rank must see the same run "
                        "directory (a shared file system)");
    }
    model.distribute(pg, opts.bucket_bytes);
  }
  // Pre-flight: the first batch must decode and mask before the run directory exists.
  auto loader = std::make_unique<Loader>(dataset, model.masker().ptr, lo, start_step);
  std::optional<Batch> first;
  if (start_step < end_step) first = loader->next();

  // Run directory (rank 0 only).
  RunDir run(out);
  if (!writer) {
    // nothing to write
  } else if (opts.resume) {
    run.truncate_jsonl_after("metrics.jsonl", start_step);
    run.truncate_jsonl_after("eval.jsonl", start_step);
    write_file_atomic(out / "config.resolved.json", resolved.dump(2) + "\n");  // records changed max_steps etc.
    logging::info("resuming " + out.string() + " at step " + std::to_string(start_step));
  } else {
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& s : opts.sets) {
      const auto eq = s.find('=');
      overrides[s.substr(0, eq)] = s.substr(eq + 1);
    }
    const nlohmann::json status0 = {{"state", "running"}, {"step", 0}, {"total_steps", end_step},
                                    {"started", utc_now()}, {"config_sha", config_hash(resolved)}};
    run = RunDir::create_fresh(out, {{"config.resolved.json", resolved.dump(2) + "\n"},
                                     {"overrides.json", overrides.dump(2) + "\n"},
                                     {"env.json", env_json(host, opts).dump(2) + "\n"},
                                     {"status.json", status0.dump(2) + "\n"}});
    lock = RunLock(out);
  }
  if (writer) logging::add_file_sink((out / "log.txt").string());
  struct SinkReset {
    ~SinkReset() { logging::clear_file_sinks(); }
  } sink_reset;
  if (writer) {
    logging::info("run " + out.string() + ": " + dataset->describe() + "; " + std::to_string(ipe) +
                  " steps/epoch, steps " + std::to_string(start_step) + ".." + std::to_string(end_step) + ", " +
                  std::to_string(model.parameter_count(true)) + " trainable parameters, device " +
                  model.device().str() +
                  (pg ? ", " + std::to_string(world) + " ranks (" + pg->backend() + ", " +
                            std::to_string(model.reducer()->bucket_count()) + " gradient buckets)"
                      : std::string()));
  }

  nlohmann::json status = writer ? run.read_status() : nlohmann::json::object();
  for (const char* k : {"error", "failed_step", "ended", "final_loss", "seconds"}) status.erase(k);
  status["state"] = "running";
  status["step"] = start_step;
  status["total_steps"] = end_step;
  status["steps_per_epoch"] = ipe;
  status["run_dir"] = fs::absolute(out).string();
  status["pid"] = static_cast<long long>(::getpid());
  status["world_size"] = world;
  if (writer) run.write_status(status);

  const std::string config_sha = config_hash(resolved);
  const auto ckpt_every = train.at("checkpoint_every").get<std::int64_t>();
  const auto keep_epochs = train.at("keep_epoch_checkpoints").get<std::int64_t>();
  std::int64_t last_saved = start_step;
  auto save = [&](std::int64_t step_done, bool epoch_copy) {
    if (!writer) {
      last_saved = step_done;
      return;
    }
    Checkpoint c;
    char name[32];
    std::snprintf(name, sizeof(name), "step_%08lld", static_cast<long long>(step_done));
    c.name = name;
    c.step = step_done;
    c.epoch = step_done / ipe;
    c.weights = model.weights();
    c.trainer = model.trainer_state();
    c.metadata = {{"format", "ijepa-cpp"}, {"sdk", IJEPA_SDK_VERSION_STRING}, {"config_sha", config_sha},
                  {"config", resolved.dump()}, {"step", std::to_string(step_done)}};
    write_checkpoint(run.checkpoints(), c);
    if (epoch_copy) {
      char ename[32];
      std::snprintf(ename, sizeof(ename), "epoch_%04lld.safetensors", static_cast<long long>(c.epoch));
      write_safetensors((run.checkpoints() / ename).string(), c.weights, c.metadata);
    }
    last_saved = step_done;
  };

  const bool quiet = opts.quiet || !writer;
  const bool tty = !quiet && ::isatty(STDERR_FILENO) != 0;
  const auto log_every = train.at("log_every").get<std::int64_t>();
  TrainSummary summary;
  summary.run_dir = out;
  std::deque<double> window;
  double window_sum = 0.0;
  bool first_window_done = false;
  const auto t0 = std::chrono::steady_clock::now();
  auto t_log = t0;
  std::int64_t imgs_since_log = 0;
  double last_ips = 0.0;
  double eval_seconds = 0.0;  // excluded from the training throughput
  std::int64_t step = start_step;
  std::int64_t failed_step = -1;  // the step whose loss was not finite
  // The steps' losses (and, distributed, the agreed stop wishes) stay on the device until a sync point (a log step, a
  // checkpoint, an evaluation, the end), where one host read takes them all: no step waits for the GPU. A non-finite
  // loss is reported with its own step, before anything is written from the weights it produced.
  struct Pending {
    std::int64_t step;
    double lr;
    at::Tensor loss, stop;
  };
  std::vector<Pending> pending;
  double last_loss = 0.0;
  bool stop_seen = false;
  auto flush = [&] {
    if (pending.empty()) return;
    std::vector<at::Tensor> ls, ss;
    for (const Pending& p : pending) {
      ls.push_back(p.loss);
      if (p.stop.defined()) ss.push_back(p.stop);
    }
    // One device-to-host copy: the losses, then the stop wishes (same dtype and device).
    const at::Tensor on_host = (ss.empty() ? at::stack(ls) : at::cat({at::stack(ls), at::stack(ss)})).to(at::kCPU);
    const double* v = on_host.data_ptr<double>();
    for (std::size_t i = 0; i < ss.size(); ++i) stop_seen = stop_seen || v[pending.size() + i] > 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (!std::isfinite(v[i])) {
        failed_step = pending[i].step + 1;
        throw TrainingError("loss is " + fmt_double(v[i]) + " at step " + std::to_string(failed_step) + " (lr " +
                            fmt_double(pending[i].lr) + "); the last good checkpoint is kept");
      }
      window.push_back(v[i]);
      window_sum += v[i];
      if (static_cast<std::int64_t>(window.size()) > log_every) {
        window_sum -= window.front();
        window.pop_front();
      }
    }
    last_loss = v[pending.size() - 1];
    pending.clear();
  };
  try {
    // Alone, a signal is read before each step (a host flag, no synchronisation). Distributed, the stop wishes ride
    // in each step's loss all-reduce and are read by flush(), which runs only at the sync points every rank shares
    // (log steps, checkpoints, evaluations), so every rank stops at the same step boundary, at most log_every steps
    // after the signal.
    for (; step < end_step; ++step) {
      if (pg ? stop_seen : stop_requested().load()) break;
      Batch b = first ? std::move(*first) : loader->next();
      first.reset();
      JepaModel::StepResult r = model.train_step(b, step, stop_requested().load());
      pending.push_back({step, r.lr, r.loss, r.stop});
      imgs_since_log += lo.batch_size * world;
      const std::int64_t done = step + 1;
      const bool log_due = done % log_every == 0 || done == end_step;
      const bool epoch_end = done % ipe == 0;
      const bool keep = epoch_end && keep_epochs > 0 && (done / ipe) % keep_epochs == 0;
      const bool save_due = (ckpt_every > 0 && done % ckpt_every == 0) || (ckpt_every == 0 && epoch_end) || keep;
      std::vector<std::size_t> due;  // evaluators due now (known to every rank; rank 0 runs them)
      for (std::size_t i = 0; i < eval_specs.size(); ++i) {
        const EvaluatorSpec& es = eval_specs[i];
        if ((es.every_steps > 0 && done % es.every_steps == 0) ||
            (es.every_epochs > 0 && epoch_end && (done / ipe) % es.every_epochs == 0) || (es.at_end && done == end_step)) {
          due.push_back(i);
        }
      }
      // Sync points, the same on every rank: nothing is logged, saved or evaluated from weights a non-finite loss
      // produced.
      if (log_due || save_due || !due.empty()) flush();
      if (writer && log_due) {
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - t_log).count();
        last_ips = dt > 0 ? static_cast<double>(imgs_since_log) / dt : 0.0;
        t_log = now;
        imgs_since_log = 0;
        const double mean_loss = window_sum / static_cast<double>(window.size());
        if (!first_window_done) {
          summary.first_loss = mean_loss;
          first_window_done = true;
        }
        nlohmann::json rec = {{"step", done}, {"epoch", b.epoch}, {"split", "train"}, {"loss", last_loss},
                              {"loss_avg", mean_loss}, {"lr", r.lr}, {"wd", r.wd}, {"ema_m", r.ema_m},
                              {"k_enc", r.k_enc}, {"k_pred", r.k_pred}, {"images_per_s", last_ips},
                              {"time_s", std::chrono::duration<double>(now - t0).count()}};
        for (const auto& [k, v] : r.extra) rec[k] = v;
        run.append_jsonl("metrics.jsonl", rec);
        const double eta =
            last_ips > 0 ? static_cast<double>((end_step - done) * lo.batch_size * world) / last_ips : -1;
        std::ostringstream line;
        line << "step " << done << "/" << end_step << "  epoch " << (b.epoch + 1) << "/" << epochs << "  loss "
             << fmt_double(mean_loss, 5) << "  lr " << fmt_double(r.lr, 3) << "  " << fmt_double(last_ips, 4)
             << " img/s  ETA " << eta_text(eta);
        if (tty) {
          const int width = 24;
          const int filled = static_cast<int>(width * done / std::max<std::int64_t>(1, end_step));
          std::cerr << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
                    << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << line.str() << "   "
                    << std::flush;
        } else if (!quiet) {
          logging::info(line.str());
        }
        status["step"] = done;
        status["epoch"] = b.epoch;
        status["loss"] = mean_loss;
        status["images_per_s"] = last_ips;
        status["images_skipped"] = loader->skip_stats().skipped;
        status["updated"] = utc_now();
        run.write_status(status);
      }
      if (save_due) save(done, keep);
      if (evaluation && !due.empty()) {
        if (tty) std::cerr << "\n";
        const auto te = std::chrono::steady_clock::now();
        const std::vector<EvalResult> results = evaluation->run(
            {{"target", model.target_encoder().ptr.get()}, {"context", model.encoder().ptr.get()}}, due);
        for (const EvalResult& er : results) {
          nlohmann::json rec = {{"step", done}, {"epoch", done / ipe}};
          rec.update(er.to_json());
          run.append_jsonl("eval.jsonl", rec);
          summary.evals[er.where] = rec;
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
          status["eval"][er.where] = er.trained;
        }
        const double es = std::chrono::duration<double>(std::chrono::steady_clock::now() - te).count();
        eval_seconds += es;
        t_log += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(es));
        run.write_status(status);
      }
    }
    flush();  // the steps since the last sync point (an interruption), before the final checkpoint
  } catch (const std::exception& e) {
    if (tty) std::cerr << "\n";
    loader.reset();
    try {
      status["state"] = "failed";
      status["error"] = e.what();
      status["failed_step"] = failed_step > 0 ? failed_step : step + 1;
      status["ended"] = utc_now();
      if (writer) run.write_status(status);
    } catch (...) {  // keep the original error
    }
    throw;
  }
  const std::int64_t skipped = loader->skip_stats().skipped;
  loader.reset();
  if (tty) std::cerr << "\n";
  const bool interrupted = step < end_step;
  if (step != last_saved) save(step, false);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.steps = step;
  summary.epochs = step / ipe;
  summary.final_loss = window.empty() ? 0.0 : window_sum / static_cast<double>(window.size());
  summary.seconds = secs;
  summary.eval_seconds = eval_seconds;
  const double train_secs = secs - eval_seconds;
  summary.images_per_s =
      train_secs > 0 ? static_cast<double>((step - start_step) * lo.batch_size * world) / train_secs : 0.0;
  summary.state = interrupted ? "interrupted" : "completed";
  status["state"] = summary.state;
  status["step"] = step;
  status["ended"] = utc_now();
  status["final_loss"] = summary.final_loss;
  status["seconds"] = secs;
  status["images_skipped"] = skipped;
  if (writer) run.write_status(status);
  if (skipped > 0) logging::warn(std::to_string(skipped) + " batch slots used a replacement for an unreadable image");
  if (writer) {
    logging::info("run " + summary.state + " at step " + std::to_string(step) + " (" + fmt_double(secs, 4) + " s)");
  }
  return summary;
}

}  // namespace ijepa::host
