#include "ijepa/host/run/jepa_model.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/hosting/output_checks.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/util/sdpa.hpp"

namespace ijepa::host {

namespace {

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

// The fields of a metrics.jsonl record that the host writes (ProgressLog::log_step, the clip's grad_norm, the run
// health's "health.*"): a component's metric of that name would replace them.
bool is_host_step_field(const std::string& key) {
  static const std::set<std::string> fields{"step", "epoch",  "split", "loss",  "loss_avg",     "lr",     "wd",
                                            "ema_m", "k_enc", "k_pred", "images_per_s", "time_s", "grad_norm"};
  return fields.count(key) > 0 || key.rfind("health.", 0) == 0;
}

// The encoder's grid checked against the config's, then the predictor and the loss built for that encoder, with
// the predictor's output width checked against what the loss wants. Returns the context with the encoder's widths.
sdk::BuildContext build_heads(const nlohmann::json& comps, const Registry& registry, const sdk::BuildContext& ctx,
                              const sdk::Encoder& encoder, Component<sdk::Predictor>& predictor,
                              Component<sdk::Loss>& loss) {
  const sdk::PatchGrid g = encoder.grid();
  if (g.h != ctx.grid.h || g.w != ctx.grid.w) {
    throw ConfigError("components.encoder: its patch grid " + std::to_string(g.h) + "x" + std::to_string(g.w) +
                      " does not match data.image_size / patch_size = " + std::to_string(ctx.grid.h) + "x" +
                      std::to_string(ctx.grid.w));
  }
  const sdk::BuildContext out = with_encoder(ctx, encoder);
  predictor = registry.make_predictor(comps.at("predictor"), out, "components.predictor");
  loss = registry.make_loss(comps.at("loss"), out, "components.loss");
  const std::int64_t want = loss->prediction_dim(out);
  const std::int64_t have = predictor->output_dim();
  if ((want == 0 ? out.encoder_dim : want) != have) {
    throw ConfigError("components.predictor: output width " + std::to_string(have) + " but " + loss.type +
                      " expects " + std::to_string(want == 0 ? out.encoder_dim : want) +
                      " (set components.predictor.output_dim)");
  }
  return out;
}

}  // namespace

JepaModel::JepaModel(const nlohmann::json& resolved, const Registry& registry) : cfg_(resolved) {
  const auto& train = cfg_.at("train");
  const auto& comps = cfg_.at("components");
  const auto threads = train.at("threads").get<std::int64_t>();
  if (threads > 0) at::set_num_threads(static_cast<int>(threads));
  device_ = parse_device(train.at("device").get<std::string>());
  util::apply_sdpa_policy(train.at("sdpa").get<std::string>());
  autocast_ = device_.is_cuda() ? train.at("bf16").get<bool>() : train.at("cpu_bf16").get<bool>();
  accum_ = train.at("accum_steps").get<std::int64_t>();
  clip_ = train.at("clip_grad").get<double>();
  if (accum_ < 1) throw ConfigError("train.accum_steps: must be >= 1, got " + std::to_string(accum_));
  if (!(clip_ >= 0)) throw ConfigError("train.clip_grad: must be >= 0 (0 = off)");

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
    // The target is a second build from the same config: a factory that builds another structure each time (random
    // depth, a parameter added on the second call) is named here, not by a size error of the copy.
    auto differ = [&](const std::string& why) {
      return ConfigError("components.encoder: " + encoder_.type + " (plugin " + encoder_.plugin_id + ") built two "
                         "different modules from one config (" + why + "); its factory must build the same one "
                         "every time (the target encoder is a second build)");
    };
    if (src.size() != dst.size()) {
      throw differ(std::to_string(src.size()) + " and " + std::to_string(dst.size()) + " parameters");
    }
    for (auto& p : dst) {
      const at::Tensor* from = src.find(p.key());
      if (from == nullptr) throw differ("parameter '" + p.key() + "' is in the second only");
      if (!from->sizes().equals(p.value().sizes())) throw differ("parameter '" + p.key() + "' has another shape");
      p.value().copy_(*from);
      p.value().set_requires_grad(false);
    }
  }
  ctx_ = build_heads(comps, registry, ctx_, *encoder_, predictor_, loss_);

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
  for (const ParamGroup& group : opt_->groups()) {
    for (const auto& ref : group.params) trainable_.push_back(ref.param);
  }
  auto src = encoder_->named_parameters(true);
  for (const auto& p : target_->named_parameters(true)) {
    tgt_params_.push_back(p.value());
    enc_params_.push_back(src[p.key()]);
  }
  // Step monitors: the host's run health (train.health), then any component's own (docs/plugin-guide.md).
  if (train.at("health").get<bool>()) monitors_.push_back({&health_, "", ""});
  const std::pair<const void*, const std::pair<std::string, std::string>> caps[] = {
      {encoder_->capability(sdk::kStepMonitorId), {encoder_.plugin_id, encoder_.type}},
      {predictor_->capability(sdk::kStepMonitorId), {predictor_.plugin_id, predictor_.type}},
      {loss_->capability(sdk::kStepMonitorId), {loss_.plugin_id, loss_.type}}};
  for (const auto& [cap, who] : caps) {
    if (cap != nullptr) monitors_.push_back({static_cast<const sdk::StepMonitor*>(cap), who.first, who.second});
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

JepaModel::StepResult JepaModel::train_step(const Batch& batch, std::int64_t step, bool stop_wanted, bool observe) {
  return train_step(std::vector<Batch>{batch}, step, stop_wanted, observe);
}

at::Tensor JepaModel::clip_gradients() {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : trainable_) {
    if (p.grad().defined()) grads.push_back(p.mutable_grad());
  }
  if (grads.empty()) return at::zeros({}, at::TensorOptions().device(device_));
  // torch.nn.utils.clip_grad_norm_ (foreach): no host read, the scale is clamped to 1 on the device.
  std::vector<at::Tensor> norms = at::_foreach_norm(grads, 2.0);
  const at::Tensor total = at::stack(norms).to(at::kFloat).norm(2.0);
  const at::Tensor coef = (clip_ / (total + 1e-6)).clamp_max(1.0);
  at::_foreach_mul_(grads, coef);
  return total;
}

JepaModel::StepResult JepaModel::train_step(const std::vector<Batch>& micro, std::int64_t step, bool stop_wanted,
                                            bool observe) {
  StepResult r;
  const std::int64_t s = step + 1;
  const auto k = static_cast<std::int64_t>(micro.size());
  if (k < 1) throw TrainingError("a training step needs at least one batch");
  r.lr = sched_.lr(s);
  r.wd = sched_.wd(s);
  encoder_->train();
  predictor_->train();
  at::Tensor loss_sum;
  sdk::LossOutput last;
  JepaForward kept;
  std::vector<at::Tensor> mctx, mtgt;
  for (std::int64_t j = 0; j < k; ++j) {
    const Batch& batch = micro[static_cast<std::size_t>(j)];
    const bool final_micro = j == k - 1;
    const at::Tensor images = batch.images.to(device_, /*non_blocking=*/true);
    mctx = masks_to(batch.masks.context, device_);
    mtgt = masks_to(batch.masks.target, device_);
    if (mctx.empty() || mtgt.empty()) {
      throw TrainingError("masker " + cfg_.at("components").at("masker").value("type", std::string("?")) +
                          " returned no context or target masks");
    }
    last = forward_loss(images, mctx, mtgt, observe && final_micro ? &kept : nullptr);
    for (const auto& m : last.metrics) {  // before anything changes the weights
      // A loss metric beside the host's fields in metrics.jsonl (ProgressLog::log_step) may not replace one of them.
      if (is_host_step_field(m.first)) {
        throw PluginError(loss_.plugin_id, loss_.type + ": compute() returned a metric named '" + m.first + "', a "
                          "field the host records itself (rename the metric)");
      }
    }
    const at::Tensor detached = last.loss.detach().to(at::kDouble);
    loss_sum = j == 0 ? detached : loss_sum + detached;
    if (!final_micro) {
      backward(k == 1 ? last.loss : last.loss / static_cast<double>(k));  // accumulates into .grad, no collective
      continue;
    }
    // No host read of the loss here (item() would wait for the GPU every step): the caller reads a window at once.
    r.loss = k == 1 ? loss_sum : loss_sum / static_cast<double>(k);
    if (pg_) {
      // The mean loss over ranks, before backward: every rank reads the same values, so a non-finite loss stops all
      // at the same step. The stop wishes travel in the same collective.
      at::Tensor l = at::empty({2}, r.loss.options());
      l[0].copy_(r.loss);
      l[1].fill_(stop_wanted ? 1.0 : 0.0);
      pg_->allreduce_sum(l, "the loss all-reduce of step " + std::to_string(s));
      r.loss = l[0] / pg_->world();
      r.stop = l[1];
      reducer_->prepare();  // its hooks add the micro-batches accumulated so far to this backward's gradients
    }
    backward(k == 1 ? last.loss : last.loss / static_cast<double>(k));
  }
  r.k_enc = mctx.front().size(1);
  r.k_pred = mtgt.front().size(1);
  if (reducer_) reducer_->finish();
  // A non-finite loss is the error this step reports (the loss window says so at this sync point); the monitors'
  // maths (an SVD of the features) would fail on its NaNs first, with an error that hides the cause. Log steps read
  // the host anyway.
  if (observe && std::isfinite(r.loss.item<double>())) r.extra = observe_step(s, kept, mctx, mtgt);
  if (clip_ > 0) {
    const at::Tensor norm = clip_gradients();
    if (observe) r.extra["grad_norm"] = norm.item<double>();  // log steps read the host anyway
  }
  opt_->step(r.lr, r.wd);
  opt_->zero_grad();
  r.ema_m = sched_.ema(step);
  ema_update(r.ema_m);
  for (const auto& [key, v] : last.metrics) r.extra[key] = v;
  return r;
}

JepaForward jepa_forward(const Component<sdk::Encoder>& target, const Component<sdk::Encoder>& context,
                         const Component<sdk::Predictor>& predictor, const at::Tensor& images,
                         const std::vector<at::Tensor>& masks_ctx, const std::vector<at::Tensor>& masks_tgt,
                         bool with_target) {
  JepaForward f;
  const std::int64_t b = images.size(0);
  const auto nenc = static_cast<std::int64_t>(masks_ctx.size()), npred = static_cast<std::int64_t>(masks_tgt.size());
  if (with_target) {
    at::NoGradGuard no_grad;
    f.target_tokens = target.call([&](sdk::Encoder& e) { return e.encode(images, nullptr); });
    check_tokens(target, f.target_tokens, {b, target->grid().count(), target->embed_dim()},
                 "encode(images) (the target encoder, all patches)", "[B, N, D]");
  }
  const at::Tensor z = context.call([&](sdk::Encoder& e) { return e.encode(images, &masks_ctx); });
  check_tokens(context, z, {nenc * b, masks_ctx.front().size(1), context->embed_dim()},
               "encode(images, context masks)", "[nenc*B, K_enc, D]");
  f.prediction = predictor.call([&](sdk::Predictor& p) { return p.predict(z, masks_ctx, masks_tgt); });
  check_tokens(predictor, f.prediction, {npred * nenc * b, masks_tgt.front().size(1), predictor->output_dim()},
               "predict()", "[npred*nenc*B, K_pred, D_out]");
  if (at::GradMode::is_enabled() && !f.prediction.requires_grad()) {
    throw PluginError(predictor.plugin_id, predictor.type + ": predict() returned a prediction cut off from autograd "
                      "(made under no_grad, or through detach()): nothing would learn");
  }
  return f;
}

sdk::Metrics JepaModel::observe_step(std::int64_t step, const JepaForward& f, const std::vector<at::Tensor>& mctx,
                                     const std::vector<at::Tensor>& mtgt) const {
  sdk::StepView v;
  v.step = step;
  v.target_tokens = f.target_tokens;
  v.prediction = f.prediction;
  v.masks_ctx = &mctx;
  v.masks_tgt = &mtgt;
  for (const ParamGroup& g : opt_->groups()) {
    std::vector<at::Tensor> ps;
    for (const auto& p : g.params) ps.push_back(p.param);
    v.groups.emplace_back(g.name, std::move(ps));
  }
  v.context_params = &enc_params_;
  v.target_params = &tgt_params_;
  sdk::Metrics all;
  for (const Monitor& m : monitors_) {
    if (m.plugin_id.empty()) {  // the host's own
      for (const auto& [k, val] : m.monitor->observe(v)) all[k] = val;
      continue;
    }
    // A component's monitor: its errors tagged with the plugin, its metric names kept off the host's fields.
    const Component<const sdk::StepMonitor> c{std::shared_ptr<const sdk::StepMonitor>(m.monitor, [](const auto*) {}),
                                              m.plugin_id, m.type + " (step monitor)"};
    for (const auto& [k, val] : c.call([&](const sdk::StepMonitor& s) { return s.observe(v); })) {
      if (is_host_step_field(k)) {
        throw PluginError(m.plugin_id, m.type + ": its step monitor returned a metric named '" + k + "', a field the "
                          "host records itself (rename the metric)");
      }
      all[k] = val;
    }
  }
  return all;
}

void JepaModel::backward(const at::Tensor& loss) const {
  try {
    loss.backward();
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (const auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    // Autograd's words name no component: the likely one is a plugin that keeps a tensor of an earlier step's graph.
    if (msg.find("backward through the graph a second time") != std::string::npos) {
      throw TrainingError("backward: " + msg + " -- a component keeps a tensor from an earlier step's graph (the " +
                          "loss " + loss_.type + " of plugin " + loss_.plugin_id + ", the predictor " +
                          predictor_.type + " or the encoder " + encoder_.type + "?): detach() what it keeps");
    }
    throw;
  }
}

sdk::LossOutput JepaModel::forward_loss(const at::Tensor& images, const std::vector<at::Tensor>& mctx,
                                        const std::vector<at::Tensor>& mtgt, JepaForward* keep) {
  AutocastGuard ac(autocast_, device_.type());
  const JepaForward f = jepa_forward(target_, encoder_, predictor_, images, mctx, mtgt, loss_->needs_target_encoder());
  if (keep != nullptr) *keep = JepaForward{f.target_tokens.defined() ? f.target_tokens.detach() : at::Tensor(),
                                           f.prediction.detach()};
  sdk::LossInput in;
  in.prediction = f.prediction;
  in.target_tokens = f.target_tokens;
  in.images = images;
  in.masks_ctx = &mctx;
  in.masks_tgt = &mtgt;
  in.patch_size = ctx_.patch_size;
  return loss_.call([&](sdk::Loss& l) {
    sdk::LossOutput out = l.compute(in);
    // The contract (sdk::Loss): one floating-point scalar that backward() can start from. Said here, with the
    // plugin named, rather than by autograd's own words at backward().
    const at::Tensor& t = out.loss;
    if (!t.defined()) throw std::runtime_error("compute() returned an undefined loss tensor");
    if (t.dim() != 0 || !at::isFloatingType(t.scalar_type())) {
      std::string shape = "[";
      for (std::int64_t d = 0; d < t.dim(); ++d) shape += (d ? ", " : "") + std::to_string(t.size(d));
      throw std::runtime_error("compute() must return a 0-dim floating-point loss, got " +
                               std::string(c10::toString(t.scalar_type())) + " of shape " + shape + "]");
    }
    if (at::GradMode::is_enabled() && !t.requires_grad()) {
      throw std::runtime_error("compute() returned a loss that does not require grad: it is cut off from the "
                               "prediction (made under no_grad, or through detach() or item())");
    }
    return out;
  });
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

std::string JepaModel::init_from(const TensorMap& weights, const std::string& origin) {
  auto has = [&weights](const std::string& prefix) {
    return std::any_of(weights.begin(), weights.end(), [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
  };
  const bool enc = has("encoder."), tgt = has("target_encoder."), pred = has("predictor.");
  if (!enc && !tgt) {
    throw std::runtime_error(origin + ": no encoder.* or target_encoder.* tensors to start from");
  }
  load_module_state(*encoder_.ptr, weights, enc ? "encoder." : "target_encoder.", origin);
  load_module_state(*target_.ptr, weights, tgt ? "target_encoder." : "encoder.", origin);
  if (pred) load_module_state(*predictor_.ptr, weights, "predictor.", origin);
  return std::string("encoder from ") + (enc ? "encoder" : "target_encoder") + ", target encoder from " +
         (tgt ? "target_encoder" : "encoder") + ", predictor " + (pred ? "from predictor" : "initialised afresh");
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

void check_model_config(const nlohmann::json& resolved, const Registry& registry) {
  const auto& comps = resolved.at("components");
  const sdk::BuildContext ctx = experiment_context(resolved);
  const Component<sdk::Encoder> encoder = registry.make_encoder(comps.at("encoder"), ctx, "components.encoder");
  Component<sdk::Predictor> predictor;
  Component<sdk::Loss> loss;
  (void)build_heads(comps, registry, ctx, *encoder, predictor, loss);
}

}  // namespace ijepa::host
