#include "representation_loss.hpp"

#include <stdexcept>

namespace ijepa::plugins::loss_representation {

RepresentationLossOptions RepresentationLossOptions::from_json(const nlohmann::json& cfg, Distance d) {
  RepresentationLossOptions o;
  o.distance = d;
  o.normalize_target = sdk::get<bool>(cfg, "normalize_target");
  if (d == Distance::smooth_l1) {
    o.beta = sdk::get<double>(cfg, "beta");
    if (!(o.beta > 0.0)) throw std::invalid_argument("key 'beta': must be > 0");
  }
  return o;
}

at::Tensor target_from_tokens(const at::Tensor& tokens, const std::vector<at::Tensor>& masks_ctx,
                              const std::vector<at::Tensor>& masks_tgt, bool normalize) {
  at::Tensor h = tokens.to(at::kFloat);
  if (normalize) h = at::layer_norm(h, {h.size(-1)}, {}, {}, 1e-5);
  const std::int64_t batch = tokens.size(0);
  h = sdk::apply_masks(h, masks_tgt);
  return sdk::repeat_interleave_batch(h, batch, static_cast<std::int64_t>(masks_ctx.size()));
}

sdk::LossOutput RepresentationLoss::compute(const sdk::LossInput& in) {
  if (!in.target_tokens.defined()) throw std::invalid_argument("target tokens are missing");
  if (in.masks_ctx == nullptr || in.masks_tgt == nullptr) throw std::invalid_argument("masks are missing");
  const at::Tensor h = target_from_tokens(in.target_tokens, *in.masks_ctx, *in.masks_tgt, opts_.normalize_target);
  const at::Tensor z = in.prediction.to(at::kFloat);
  if (z.sizes() != h.sizes()) {
    throw std::invalid_argument("prediction shape " + c10::str(z.sizes()) + " != target shape " + c10::str(h.sizes()));
  }
  sdk::LossOutput out;
  out.loss = sdk::distance_loss(z, h, opts_.distance, opts_.beta);
  return out;
}

}  // namespace ijepa::plugins::loss_representation
