#pragma once
// Predictor: predicts target-block representations from context tokens.
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::sdk {

// [one thread at a time] A torch::nn::Module; parameter names are the checkpoint keys (official I-JEPA names).
class IJEPA_SDK_VISIBLE Predictor : public torch::nn::Module {
 public:
  ~Predictor() override = default;
  // predict(ctx [nenc*B, K_enc, D], masks_ctx nenc x [B,K_enc], masks_tgt npred x [B,K_pred]) -> [npred*nenc*B, K_pred, D_out]
  virtual at::Tensor predict(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                             const std::vector<at::Tensor>& masks_tgt) = 0;
  virtual std::int64_t output_dim() const = 0;  // D_out (the encoder width unless configured otherwise)
  // Optional features by id (see capabilities.hpp); null when unsupported. Pointer valid while *this lives.
  virtual const void* capability(std::string_view id) const noexcept = 0;
};

}  // namespace ijepa::sdk
