#pragma once
// Analytic model FLOPs of one I-JEPA training step (docs/benchmarks.md, "Training step").
// Only matrix multiplies are counted, each as 2*m*n*k: patch embedding (as a matmul), qkv, q k^T, attn v, proj,
// fc1, fc2, predictor_embed and predictor_proj. Norms, softmax, GELU, the loss and the optimiser are not counted.
#include <cstdint>
#include <string>
#include <vector>

#include "ijepa/sdk/encoder.hpp"

namespace ijepa::host::bench {

// A stack of pre-norm ViT blocks.
struct VitStack {
  std::int64_t dim = 0;         // width D
  std::int64_t depth = 0;       // blocks
  std::int64_t heads = 0;       // attention heads (does not change the count: heads * head_dim = D)
  std::int64_t mlp_hidden = 0;  // fc1 output width
};

// encoder_stack(encoder) -> its width, depth and heads, and the MLP width from its "ijepa.block_shape/1" capability
// (4 D when it has none): the shapes come from the encoder plugin, the benchmark keeps no copy of its presets.
VitStack encoder_stack(const sdk::Encoder& encoder);

// Default predictor for an encoder: depth 6 (12 for encoders of 24 blocks or more, as the official configs of
// ViT-L and ViT-H and the paper), width min(384, D) (the official 384, but never wider than the encoder).
std::int64_t default_pred_depth(const VitStack& encoder);
std::int64_t default_pred_dim(const VitStack& encoder);

struct StepShape {
  std::int64_t batch = 0;       // images B
  std::int64_t image_size = 0;  // pixels per side
  std::int64_t patch = 0;       // patch side p
  std::int64_t in_chans = 3;
  VitStack encoder;
  VitStack predictor;
  std::int64_t nenc = 1, npred = 4;      // context and target masks per image
  std::int64_t k_enc = 0, k_pred = 0;    // tokens kept per context mask, per target mask
};

// Forward FLOPs of `depth` blocks over `rows` sequences of `tokens` tokens each:
//   rows * depth * (2*T*D*3D + 2*T*T*D + 2*T*T*D + 2*T*D*D + 2*T*D*H + 2*T*H*D).
double vit_blocks_forward_flops(std::int64_t rows, std::int64_t tokens, const VitStack& s);

struct StepFlops {
  double target_forward = 0;     // target encoder on all N tokens (no grad: forward only)
  double context_forward = 0;    // context encoder: patch embed on N tokens, blocks on K_enc tokens
  double predictor_forward = 0;  // predictor on K_enc + K_pred tokens per target
  double total = 0;              // target_forward + 3 * (context_forward + predictor_forward)
};
StepFlops train_step_flops(const StepShape& s);

}  // namespace ijepa::host::bench
