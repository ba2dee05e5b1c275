#include "ijepa/host/bench/flops.hpp"

#include <algorithm>

#include "ijepa/sdk/capabilities.hpp"

namespace ijepa::host::bench {

VitStack encoder_stack(const sdk::Encoder& encoder) {
  VitStack s{encoder.embed_dim(), encoder.depth(), encoder.num_heads(), 4 * encoder.embed_dim()};
  if (const auto* shape = static_cast<const sdk::BlockShape*>(encoder.capability(sdk::kBlockShapeId))) {
    s.mlp_hidden = shape->mlp_hidden();
  }
  return s;
}

std::int64_t default_pred_depth(const VitStack& encoder) { return encoder.depth >= 24 ? 12 : 6; }

std::int64_t default_pred_dim(const VitStack& encoder) { return std::min<std::int64_t>(384, encoder.dim); }

double vit_blocks_forward_flops(std::int64_t rows, std::int64_t tokens, const VitStack& s) {
  const double t = static_cast<double>(tokens), d = static_cast<double>(s.dim), h = static_cast<double>(s.mlp_hidden);
  const double qkv = 2.0 * t * d * 3.0 * d;
  const double scores = 2.0 * t * t * d;  // q k^T summed over heads: heads * 2 * T * T * head_dim
  const double av = 2.0 * t * t * d;      // attn @ v
  const double proj = 2.0 * t * d * d;
  const double mlp = 2.0 * t * d * h + 2.0 * t * h * d;
  return static_cast<double>(rows) * static_cast<double>(s.depth) * (qkv + scores + av + proj + mlp);
}

StepFlops train_step_flops(const StepShape& s) {
  const double b = static_cast<double>(s.batch);
  const std::int64_t g = s.patch > 0 ? s.image_size / s.patch : 0;
  const std::int64_t n = g * g;
  const double d = static_cast<double>(s.encoder.dim), dp = static_cast<double>(s.predictor.dim);
  // Patch embedding: a [N, C*p*p] x [C*p*p, D] matmul per image.
  const double patch_embed = b * 2.0 * static_cast<double>(n) * static_cast<double>(s.in_chans * s.patch * s.patch) * d;
  StepFlops f;
  f.target_forward = patch_embed + vit_blocks_forward_flops(s.batch, n, s.encoder);
  const std::int64_t ctx_rows = s.nenc * s.batch;
  f.context_forward = patch_embed + vit_blocks_forward_flops(ctx_rows, s.k_enc, s.encoder);
  const std::int64_t pred_rows = s.npred * ctx_rows;
  const double embed = static_cast<double>(ctx_rows) * 2.0 * static_cast<double>(s.k_enc) * d * dp;
  const double out_proj = static_cast<double>(pred_rows) * 2.0 * static_cast<double>(s.k_pred) * dp * d;
  f.predictor_forward = embed + vit_blocks_forward_flops(pred_rows, s.k_enc + s.k_pred, s.predictor) + out_proj;
  f.total = f.target_forward + 3.0 * (f.context_forward + f.predictor_forward);
  return f;
}

}  // namespace ijepa::host::bench
