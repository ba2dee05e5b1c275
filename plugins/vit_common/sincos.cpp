#include "sincos.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace ijepa::plugins::vit {

at::Tensor sincos_pos_embed_2d(std::int64_t dim, std::int64_t grid_h, std::int64_t grid_w) {
  if (dim <= 0 || dim % 4 != 0)
    throw std::invalid_argument("sin-cos position embedding needs a width divisible by 4, got " + std::to_string(dim));
  if (grid_h <= 0 || grid_w <= 0)
    throw std::invalid_argument("sin-cos position embedding needs a non-empty grid, got " + std::to_string(grid_h) +
                                "x" + std::to_string(grid_w));
  const std::int64_t q = dim / 4;
  std::vector<double> omega(static_cast<std::size_t>(q));
  for (std::int64_t k = 0; k < q; ++k) {
    omega[static_cast<std::size_t>(k)] = 1.0 / std::pow(10000.0, static_cast<double>(k) / static_cast<double>(q));
  }
  std::vector<double> table(static_cast<std::size_t>(grid_h * grid_w * dim));
  for (std::int64_t i = 0; i < grid_h; ++i) {
    for (std::int64_t j = 0; j < grid_w; ++j) {
      double* row = table.data() + (i * grid_w + j) * dim;
      for (std::int64_t k = 0; k < q; ++k) {
        const double w = omega[static_cast<std::size_t>(k)];
        row[k] = std::sin(static_cast<double>(j) * w);
        row[q + k] = std::cos(static_cast<double>(j) * w);
        row[2 * q + k] = std::sin(static_cast<double>(i) * w);
        row[3 * q + k] = std::cos(static_cast<double>(i) * w);
      }
    }
  }
  return at::from_blob(table.data(), {grid_h * grid_w, dim}, at::TensorOptions().dtype(at::kDouble))
      .to(at::kFloat);  // .to copies, so the local buffer may go
}

}  // namespace ijepa::plugins::vit
