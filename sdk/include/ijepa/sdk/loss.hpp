#pragma once
// Loss: turns predictions and targets into a scalar to minimise.
#include <cstdint>
#include <string_view>
#include <vector>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::sdk {

// Everything a loss may read for one step. Tensors are valid during the compute() call only.
struct LossInput {
  at::Tensor prediction;                 // [npred*nenc*B, K_pred, D_out] from the predictor (requires grad)
  at::Tensor target_tokens;              // [B, N, D] full-image target-encoder output (no grad); undefined if !needs_target_encoder()
  at::Tensor images;                     // [B, C, S, S] the normalised input batch
  const std::vector<at::Tensor>* masks_ctx = nullptr;  // nenc x [B, K_enc]
  const std::vector<at::Tensor>* masks_tgt = nullptr;  // npred x [B, K_pred]
  std::int64_t patch_size = 0;           // pixels per patch side
};

struct LossOutput {
  at::Tensor loss;  // 0-dim float scalar, differentiable w.r.t. the prediction
  Metrics metrics;  // extra scalars to log (may be empty)
};

// [one thread at a time] Lives as long as the host holds its shared_ptr.
class IJEPA_SDK_VISIBLE Loss {
 public:
  virtual ~Loss() = default;
  virtual LossOutput compute(const LossInput& in) = 0;
  // False when the loss needs no target encoder (e.g. pixel targets): the host skips that forward pass.
  virtual bool needs_target_encoder() const = 0;
  // Predictor output width this loss expects (0: the encoder width).
  virtual std::int64_t prediction_dim(const BuildContext& ctx) const = 0;
  virtual const void* capability(std::string_view id) const noexcept = 0;
};

}  // namespace ijepa::sdk
