#pragma once
// Helpers shared by the ablation maskers: per-batch generators (seeded with sdk::position_seed), grid checks and
// batch assembly.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "ijepa/sdk/seeds.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::plugins::masker_ablations {

// torch.Generator().manual_seed(seed) on the CPU.
at::Generator cpu_generator(std::uint64_t seed);
// torch.randint(lo, hi, (1,), generator=g).item(): hi exclusive.
std::int64_t randint(at::Generator& g, std::int64_t lo, std::int64_t hi);
// torch.rand(1, generator=g).item() (a float32), promoted to double.
double rand_unit(at::Generator& g);

// Throws std::invalid_argument("<type> masker: empty patch grid ...") unless the grid has at least min_h x min_w.
void check_grid(const char* type, sdk::PatchGrid grid, std::int64_t min_h, std::int64_t min_w);
// Throws std::invalid_argument("<type> masker: batch size must be >= 1, got B") for B < 1.
void check_batch(const char* type, std::int64_t batch_size);

// stack_truncated(rows) -> int64 [B, K]: row b holds the first K ids of rows[b], K = the batch minimum of the
// row lengths (the official collator's truncation, ijepa-spec.md 2.5). Rows must be ascending raster ids.
at::Tensor stack_truncated(const std::vector<std::vector<std::int64_t>>& rows);

}  // namespace ijepa::plugins::masker_ablations
