#pragma once
// PixelLoss (`pixel`): paper Table 7 "pixels": the predictor regresses the (MAE-style normalised) pixels of each
// target patch instead of target-encoder tokens, so no target-encoder pass is needed.
#include <cstdint>
#include <string_view>
#include <vector>

#include "ijepa/sdk/distance.hpp"
#include "ijepa/sdk/plugin.hpp"

namespace ijepa::plugins::loss_pixel {

using Distance = sdk::Distance;  // l2 | smooth_l1

struct PixelLossOptions {
  Distance distance = Distance::l2;  // "l2": mean squared error (MAE); "smooth_l1": Huber with `beta`, mean
  bool norm_pix = true;              // normalise each target patch by its own mean and (unbiased) variance (MAE)
  double eps = 1e-6;                 // added to the patch variance before the square root (MAE: 1e-6)
  double beta = 1.0;                 // Huber transition point of smooth_l1

  // from_json(cfg) -> options; std::invalid_argument with a one-line message naming the key on bad values.
  static PixelLossOptions from_json(const nlohmann::json& cfg);
  nlohmann::json to_json() const;
  static nlohmann::json default_config();
  static nlohmann::json doc();
};

// patchify(images [B, C, H*p, W*p], p) -> [B, H*W, p*p*C]: patch n = row * W + col, each flattened in (pixel row,
// pixel column, channel) order, channel fastest (MAE's `patchify`).
at::Tensor patchify(const at::Tensor& images, std::int64_t patch_size);

// pixel_targets(images, p, masks_ctx, masks_tgt, norm_pix, eps) -> [npred*nenc*B, K_pred, p*p*C] float32: the
// target patches in the representation loss's row order (mask-major, each target mask repeated nenc times).
at::Tensor pixel_targets(const at::Tensor& images, std::int64_t patch_size, const std::vector<at::Tensor>& masks_ctx,
                         const std::vector<at::Tensor>& masks_tgt, bool norm_pix, double eps);

class PixelLoss final : public sdk::Loss {
 public:
  explicit PixelLoss(PixelLossOptions opts) : opts_(opts) {}
  // compute: mean over all npred*nenc*B*K_pred*p*p*C elements of (prediction - target)^2 or smooth_l1
  sdk::LossOutput compute(const sdk::LossInput& in) override;
  bool needs_target_encoder() const override { return false; }
  // p * p * in_chans of the run; throws std::invalid_argument when the patch size is unknown (0).
  std::int64_t prediction_dim(const sdk::BuildContext& ctx) const override;
  const void* capability(std::string_view) const noexcept override { return nullptr; }
  const PixelLossOptions& options() const { return opts_; }

 private:
  PixelLossOptions opts_;
};

}  // namespace ijepa::plugins::loss_pixel
