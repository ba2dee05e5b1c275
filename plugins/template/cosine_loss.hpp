#pragma once
// CosineLoss: 1 - cosine similarity between each predicted and target token (a BYOL-style objective).
#include "ijepa/sdk/plugin.hpp"

namespace ijepa::plugins::template_cosine {

struct CosineLossOptions {
  bool normalize_target = true;  // layer-norm the target tokens first (no affine, eps 1e-5), as I-JEPA does
  double eps = 1e-8;             // guards the norms

  static CosineLossOptions from_json(const nlohmann::json& cfg);
};

class CosineLoss final : public sdk::Loss {
 public:
  explicit CosineLoss(CosineLossOptions opts) : opts_(opts) {}
  // compute: prediction [R, K, D] vs targets gathered from target_tokens [B, N, D] -> mean(1 - cos)
  sdk::LossOutput compute(const sdk::LossInput& in) override;
  bool needs_target_encoder() const override { return true; }
  std::int64_t prediction_dim(const sdk::BuildContext&) const override { return 0; }
  const void* capability(std::string_view) const noexcept override { return nullptr; }

 private:
  CosineLossOptions opts_;
};

}  // namespace ijepa::plugins::template_cosine
