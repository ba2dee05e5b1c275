#include "vit_predictor.hpp"

#include <stdexcept>
#include <string>

#include <ATen/ATen.h>

#include "ijepa/sdk/tensor_ops.hpp"
#include "sincos.hpp"
#include "vit_init.hpp"
#include "vit_linear.hpp"
#include "vit_size.hpp"

namespace ijepa::plugins::vit {

namespace {
VitPredictorOptions resolve(VitPredictorOptions o, const sdk::BuildContext& ctx) {
  if (ctx.encoder_dim <= 0)
    throw std::invalid_argument("vit_predictor needs the encoder width (BuildContext::encoder_dim is 0)");
  if (ctx.grid.h <= 0 || ctx.grid.w <= 0)
    throw std::invalid_argument("vit_predictor needs the patch grid (BuildContext::grid is empty)");
  if (o.num_heads == 0) {
    if (ctx.encoder_heads <= 0)
      throw std::invalid_argument("vit_predictor: num_heads 0 means the encoder's heads, but "
                                  "BuildContext::encoder_heads is 0");
    o.num_heads = ctx.encoder_heads;
  }
  if (o.output_dim == 0) o.output_dim = ctx.encoder_dim;
  if (o.embed_dim <= 0 || o.embed_dim % 4 != 0)
    throw std::invalid_argument("key 'embed_dim': must be > 0 and divisible by 4, got " + std::to_string(o.embed_dim));
  if (o.embed_dim % o.num_heads != 0)
    throw std::invalid_argument("key 'num_heads': " + std::to_string(o.num_heads) + " does not divide embed_dim " +
                                std::to_string(o.embed_dim));
  const double dp = static_cast<double>(o.embed_dim), de = static_cast<double>(ctx.encoder_dim);
  const std::string big =
      too_large("predictor",
                vit_parameters(dp, static_cast<double>(o.depth), o.mlp_ratio, static_cast<double>(ctx.grid.count()),
                               de * dp + dp * static_cast<double>(o.output_dim) + 3 * dp),
                "keys 'depth', 'embed_dim', 'mlp_ratio'");
  if (!big.empty()) throw std::invalid_argument(big);
  return o;
}
}  // namespace

VitPredictor::VitPredictor(const VitPredictorOptions& opts, const sdk::BuildContext& ctx)
    : opts_(resolve(opts, ctx)), encoder_dim_(ctx.encoder_dim), output_dim_(opts_.output_dim), grid_(ctx.grid),
      linear_kernel_(parse_linear_kernel(opts_.linear)) {
  const std::int64_t dp = opts_.embed_dim;
  predictor_embed_ =
      register_module("predictor_embed", torch::nn::Linear(torch::nn::LinearOptions(encoder_dim_, dp).bias(true)));
  mask_token_ = register_parameter("mask_token", at::zeros({1, 1, dp}));
  predictor_pos_embed_ = register_parameter(
      "predictor_pos_embed", sincos_pos_embed_2d(dp, grid_.h, grid_.w).unsqueeze(0), /*requires_grad=*/false);
  blocks_list_ = register_module("predictor_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < opts_.depth; ++i) {
    blocks_.emplace_back(dp, opts_.num_heads, opts_.mlp_ratio);
    blocks_.back()->set_kernels(parse_attention_kernel(opts_.attention), linear_kernel_);
    blocks_list_->push_back(blocks_.back());
  }
  predictor_norm_ = register_module(
      "predictor_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dp}).eps(kLayerNormEps)));
  predictor_proj_ = register_module("predictor_proj",
                                    torch::nn::Linear(torch::nn::LinearOptions(dp, output_dim_).bias(true)));
  trunc_normal_(mask_token_);
  init_vit_weights(*this);
}

at::Tensor VitPredictor::run(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                             const std::vector<at::Tensor>& masks_tgt, bool explicit_attention) {
  if (masks_ctx.empty() || masks_tgt.empty())
    throw std::invalid_argument("vit_predictor needs at least one context and one target mask");
  const auto nenc = static_cast<std::int64_t>(masks_ctx.size());
  const auto npred = static_cast<std::int64_t>(masks_tgt.size());
  if (context.dim() != 3 || context.size(0) % nenc != 0 || context.size(2) != encoder_dim_)
    throw std::invalid_argument("vit_predictor expects context [nenc*B, K, " + std::to_string(encoder_dim_) +
                                "] with nenc = " + std::to_string(nenc));
  const std::int64_t batch = context.size(0) / nenc;
  // pos [B, N, D_p] (a view; gather reads through the expand)
  const at::Tensor pos = predictor_pos_embed_.expand({batch, -1, -1});
  // x [nenc*B, K_enc, D_p]
  at::Tensor x = linear(predictor_embed_, context, linear_kernel_) + sdk::apply_masks(pos, masks_ctx);
  const std::int64_t k_ctx = x.size(1);
  // t [npred*nenc*B, K_pred, D_p]: target positions, each chunk of B repeated nenc times, plus the mask token
  at::Tensor t = sdk::repeat_interleave_batch(sdk::apply_masks(pos, masks_tgt), batch, nenc) + mask_token_;
  // x [npred*nenc*B, K_enc + K_pred, D_p]: the whole context batch tiled npred times
  x = at::cat({x.repeat({npred, 1, 1}), t}, 1);
  if (explicit_attention) {  // the reference's arithmetic, block for block
    for (auto& blk : blocks_) x = blk->forward_explicit(x);
    x = predictor_norm_->forward(x);
    return linear(predictor_proj_, x.narrow(1, k_ctx, x.size(1) - k_ctx), linear_kernel_);
  }
  // Only the target rows leave the last block, so it computes only those (its keys and values still come from
  // every token): the same output as running it whole and dropping the context rows, with less work.
  for (std::size_t i = 0; i + 1 < blocks_.size(); ++i) x = blocks_[i]->forward(x);
  x = blocks_.empty() ? x.narrow(1, k_ctx, x.size(1) - k_ctx) : blocks_.back()->forward_from(x, k_ctx);
  return linear(predictor_proj_, predictor_norm_->forward(x), linear_kernel_);
}

at::Tensor VitPredictor::predict(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                                 const std::vector<at::Tensor>& masks_tgt) {
  return run(context, masks_ctx, masks_tgt, /*explicit_attention=*/false);
}

at::Tensor VitPredictor::predict_explicit(const at::Tensor& context, const std::vector<at::Tensor>& masks_ctx,
                                          const std::vector<at::Tensor>& masks_tgt) {
  return run(context, masks_ctx, masks_tgt, /*explicit_attention=*/true);
}

}  // namespace ijepa::plugins::vit
