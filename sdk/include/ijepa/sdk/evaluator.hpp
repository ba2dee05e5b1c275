#pragma once
// Evaluator: scores frozen features (a probe) on a labelled train/test split.
#include <cstdint>
#include <string_view>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::sdk {

// One labelled split of frozen features, valid during evaluate() only. Tensors are CPU, or on the device the
// features were computed on for an evaluator answering "ijepa.device_features/1" (SDK 1.4, capabilities.hpp).
struct FeatureSplit {
  at::Tensor features;  // float32 [N, F] pooled features, or [N, T, D] tokens when the evaluator asks for tokens
  at::Tensor labels;    // int64 [N] class ids in [0, num_classes)
};

struct EvalInput {
  FeatureSplit train;
  FeatureSplit test;
  std::int64_t num_classes = 0;
  std::uint64_t seed = 0;  // for any sampling or initialisation inside the evaluator
};

// [one thread at a time] Lives as long as the host holds its shared_ptr.
class IJEPA_SDK_VISIBLE Evaluator {
 public:
  virtual ~Evaluator() = default;
  // evaluate(in) -> metrics such as {"top1": 71.2, "top5": 95.0} (percent)
  virtual Metrics evaluate(const EvalInput& in) = 0;
  // True when the evaluator wants token features [N, T, D] instead of pooled [N, F].
  virtual bool wants_tokens() const = 0;
  virtual const void* capability(std::string_view id) const noexcept = 0;
};

}  // namespace ijepa::sdk
