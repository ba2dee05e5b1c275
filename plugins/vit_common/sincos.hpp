#pragma once
// Fixed 2-D sin-cos positional embedding (spec §3.3), shared by the encoder and the predictor.
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace ijepa::plugins::vit {

// sincos_pos_embed_2d(dim, grid_h, grid_w) -> [grid_h*grid_w, dim] float32, computed in float64.
// Token n = i*grid_w + j (i = row, j = column); Q = dim/4, w_k = 10000^(-k/Q):
// [sin(j w) | cos(j w) | sin(i w) | cos(i w)] (column half first, as the reference). Needs dim % 4 == 0.
at::Tensor sincos_pos_embed_2d(std::int64_t dim, std::int64_t grid_h, std::int64_t grid_w);

}  // namespace ijepa::plugins::vit
