#pragma once
// RepresentationLoss: I-JEPA's loss between predicted and target-encoder tokens of the target blocks.
#include "ijepa/sdk/distance.hpp"
#include "ijepa/sdk/plugin.hpp"

namespace ijepa::plugins::loss_representation {

using Distance = sdk::Distance;  // smooth_l1 (official) | l2

struct RepresentationLossOptions {
  Distance distance = Distance::smooth_l1;
  bool normalize_target = true;  // layer_norm(h, (D,)) without affine, eps 1e-5, before masking (official code)
  double beta = 1.0;             // Huber transition point of smooth_l1 (official: 1.0)

  static RepresentationLossOptions from_json(const nlohmann::json& cfg, Distance d);
};

// target_from_tokens(h [B,N,D], masks_ctx, masks_tgt, normalize) -> [npred*nenc*B, K_pred, D] float32 (spec §6)
at::Tensor target_from_tokens(const at::Tensor& tokens, const std::vector<at::Tensor>& masks_ctx,
                              const std::vector<at::Tensor>& masks_tgt, bool normalize);

class RepresentationLoss final : public sdk::Loss {
 public:
  explicit RepresentationLoss(RepresentationLossOptions opts) : opts_(opts) {}
  // compute: smooth_l1 (beta, mean) or mean squared error over all npred*nenc*B*K_pred*D elements
  sdk::LossOutput compute(const sdk::LossInput& in) override;
  bool needs_target_encoder() const override { return true; }
  std::int64_t prediction_dim(const sdk::BuildContext&) const override { return 0; }
  const void* capability(std::string_view) const noexcept override { return nullptr; }

 private:
  RepresentationLossOptions opts_;
};

}  // namespace ijepa::plugins::loss_representation
