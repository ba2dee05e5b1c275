#pragma once
// VitPredictor: the I-JEPA VisionTransformerPredictor (spec §5) behind the sdk::Predictor interface.
// State-dict keys equal the reference's: predictor_embed.*, mask_token, predictor_pos_embed,
// predictor_blocks.{i}.*, predictor_norm.*, predictor_proj.*.
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "ijepa/sdk/predictor.hpp"
#include "ijepa/sdk/types.hpp"
#include "vit_block.hpp"
#include "vit_predictor_options.hpp"

namespace ijepa::plugins::vit {

class VitPredictor final : public sdk::Predictor {
 public:
  // Needs ctx.encoder_dim, ctx.grid and (when opts.num_heads == 0) ctx.encoder_heads; throws
  // std::invalid_argument otherwise. Initialises (spec §3.4) from torch's global generator.
  VitPredictor(const VitPredictorOptions& opts, const sdk::BuildContext& ctx);

  // predict(ctx [nenc*B, K_enc, D], masks_ctx nenc x [B, K_enc], masks_tgt npred x [B, K_pred])
  //   -> [npred*nenc*B, K_pred, D_out], row = i*(nenc*B) + e*B + b (spec §4).
  at::Tensor predict(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                     const std::vector<at::Tensor>& masks_tgt) override;
  // predict_explicit: the same with explicit-softmax attention (the reference's arithmetic; for tests).
  at::Tensor predict_explicit(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                              const std::vector<at::Tensor>& masks_tgt);

  std::int64_t output_dim() const override { return output_dim_; }
  const void* capability(std::string_view) const noexcept override { return nullptr; }

  const VitPredictorOptions& options() const { return opts_; }  // resolved (num_heads, output_dim filled)
  std::int64_t encoder_dim() const { return encoder_dim_; }

 private:
  at::Tensor run(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                 const std::vector<at::Tensor>& masks_tgt, bool explicit_attention);

  VitPredictorOptions opts_;
  std::int64_t encoder_dim_;
  std::int64_t output_dim_;
  sdk::PatchGrid grid_;
  sdk::LinearKernel linear_kernel_;       // config key "linear" (predictor_embed, predictor_proj, the blocks)
  torch::nn::Linear predictor_embed_{nullptr};
  at::Tensor mask_token_;                 // [1, 1, D_p], learned
  at::Tensor predictor_pos_embed_;        // [1, N, D_p], fixed sin-cos, requires_grad false
  torch::nn::ModuleList blocks_list_{nullptr};
  std::vector<VitBlock> blocks_;          // the same modules as blocks_list_, typed
  torch::nn::LayerNorm predictor_norm_{nullptr};
  torch::nn::Linear predictor_proj_{nullptr};
};

}  // namespace ijepa::plugins::vit
