#include "mask_util.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace ijepa::plugins::masker_ablations {

at::Generator cpu_generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

std::int64_t randint(at::Generator& g, std::int64_t lo, std::int64_t hi) {
  return at::randint(lo, hi, {1}, g, at::TensorOptions().dtype(at::kLong)).item<std::int64_t>();
}

double rand_unit(at::Generator& g) {
  return static_cast<double>(at::rand({1}, g, at::TensorOptions().dtype(at::kFloat)).item<float>());
}

void check_grid(const char* type, sdk::PatchGrid grid, std::int64_t min_h, std::int64_t min_w) {
  if (grid.h < min_h || grid.w < min_w)
    throw std::invalid_argument(std::string(type) + " masker: the patch grid " + std::to_string(grid.h) + "x" +
                                std::to_string(grid.w) + " (image_size / patch_size) is smaller than " +
                                std::to_string(min_h) + "x" + std::to_string(min_w));
}

void check_batch(const char* type, std::int64_t batch_size) {
  if (batch_size < 1)
    throw std::invalid_argument(std::string(type) + " masker: batch size must be >= 1, got " +
                                std::to_string(batch_size));
}

at::Tensor stack_truncated(const std::vector<std::vector<std::int64_t>>& rows) {
  std::size_t k = std::numeric_limits<std::size_t>::max();
  for (const auto& r : rows) k = std::min(k, r.size());
  if (rows.empty()) k = 0;
  const auto b = static_cast<std::int64_t>(rows.size());
  const auto kk = static_cast<std::int64_t>(k);
  at::Tensor out = at::empty({b, kk}, at::TensorOptions().dtype(at::kLong));  // [B, K]
  std::int64_t* dst = out.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < b; ++i) {
    std::copy_n(rows[static_cast<std::size_t>(i)].begin(), kk, dst + i * kk);
  }
  return out;
}

}  // namespace ijepa::plugins::masker_ablations
