#pragma once
// attentive_probe: the V-JEPA attentive classifier trained with AdamW on frozen token features [N, T, D].
#include <cstdint>
#include <string_view>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "ijepa/sdk/evaluator.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::plugins::eval_probes {

struct AttentiveProbeOptions {
  std::int64_t num_heads = 0;  // 0: the encoder's heads, or max(1, D / 64) when unknown
  double lr = 1e-3;
  double weight_decay = 1e-3;
  double final_weight_decay = 1e-6;
  std::int64_t epochs = 20;
  std::int64_t batch_size = 256;

  static AttentiveProbeOptions from_json(const nlohmann::json& cfg);
  static nlohmann::json defaults();
  static nlohmann::json doc();
};

// resolve_heads(num_heads, encoder_heads, dim) -> num_heads if > 0, else encoder_heads if > 0, else
// max(1, dim / 64); std::invalid_argument (one line) when it does not divide dim.
std::int64_t resolve_heads(std::int64_t num_heads, std::int64_t encoder_heads, std::int64_t dim);

// cosine(step, total, start, end) -> end + (start - end) * (1 + cos(pi * step / total)) / 2.
double cosine_schedule(std::int64_t step, std::int64_t total, double start, double end);

class AttentiveProbe final : public sdk::Evaluator {
 public:
  AttentiveProbe(AttentiveProbeOptions o, std::int64_t encoder_heads) : opts_(o), encoder_heads_(encoder_heads) {}
  // evaluate -> top1, top5 (num_classes > 5), final_train_loss (mean cross-entropy of the last epoch)
  sdk::Metrics evaluate(const sdk::EvalInput& in) override;
  bool wants_tokens() const override { return true; }
  const void* capability(std::string_view) const noexcept override { return nullptr; }

 private:
  AttentiveProbeOptions opts_;
  std::int64_t encoder_heads_;
};

}  // namespace ijepa::plugins::eval_probes
