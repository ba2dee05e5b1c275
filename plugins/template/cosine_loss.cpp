#include "cosine_loss.hpp"

#include <stdexcept>

namespace ijepa::plugins::template_cosine {

CosineLossOptions CosineLossOptions::from_json(const nlohmann::json& cfg) {
  CosineLossOptions o;
  o.normalize_target = sdk::get<bool>(cfg, "normalize_target");
  o.eps = sdk::get<double>(cfg, "eps");
  if (!(o.eps > 0.0)) throw std::invalid_argument("key 'eps': must be > 0");
  return o;
}

sdk::LossOutput CosineLoss::compute(const sdk::LossInput& in) {
  if (!in.target_tokens.defined() || in.masks_tgt == nullptr || in.masks_ctx == nullptr)
    throw std::invalid_argument("cosine loss needs target tokens and masks");
  at::Tensor h = in.target_tokens.to(at::kFloat);
  if (opts_.normalize_target) h = at::layer_norm(h, {h.size(-1)}, {}, {}, 1e-5);
  const std::int64_t batch = in.target_tokens.size(0);
  h = sdk::apply_masks(h, *in.masks_tgt);
  h = sdk::repeat_interleave_batch(h, batch, static_cast<std::int64_t>(in.masks_ctx->size()));
  at::Tensor z = in.prediction.to(at::kFloat);
  at::Tensor cos = at::cosine_similarity(z, h, /*dim=*/-1, opts_.eps);
  sdk::LossOutput out;
  out.loss = (1.0 - cos).mean();
  out.metrics["cosine"] = cos.mean().item<double>();
  return out;
}

}  // namespace ijepa::plugins::template_cosine
