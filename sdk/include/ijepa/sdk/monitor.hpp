#pragma once
// Step monitors (SDK 1.3): read-only views of a training step at its log steps, returning scalars for metrics.jsonl.
// The host's run-health diagnostics are one; a plugin adds its own by answering the capability id
// "ijepa.step_monitor/1" of its encoder, predictor or loss (the host asks those three) with a `const StepMonitor*`.
// Called on the training thread after backward and before the optimiser step, so gradients are readable.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::sdk {

inline constexpr const char* kStepMonitorId = "ijepa.step_monitor/1";

// What one step looked like. Pointers are valid during observe() only; tensors are detached.
struct StepView {
  std::int64_t step = 0;                       // 1-based step just taken
  at::Tensor target_tokens;                    // [B, N, D] target-encoder output (undefined if the loss needs none)
  at::Tensor prediction;                       // [nenc * npred * B, K_pred, D'] the predictor's output
  const std::vector<at::Tensor>* masks_ctx = nullptr;   // nenc x [B, K_enc]
  const std::vector<at::Tensor>* masks_tgt = nullptr;   // npred x [B, K_pred]
  // Trainable parameters by optimiser group ("encoder", "predictor", ...), with their gradients of this step.
  std::vector<std::pair<std::string, std::vector<at::Tensor>>> groups;
  const std::vector<at::Tensor>* context_params = nullptr;  // the context encoder's parameters ...
  const std::vector<at::Tensor>* target_params = nullptr;   // ... and the EMA target's, in the same order
};

class IJEPA_SDK_VISIBLE StepMonitor {
 public:
  virtual ~StepMonitor() = default;
  // observe(view) -> named scalars (prefix them with the monitor's name); must not modify anything.
  virtual Metrics observe(const StepView& view) const = 0;
};

}  // namespace ijepa::sdk
