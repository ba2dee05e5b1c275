#pragma once
// The per-batch seed convention of the maskers (SDK 1.1): a masker draws the positions of batch b from a generator
// seeded with position_seed(run_seed, b), so its masks depend on (run seed, batch number) only — not on the number
// of loader threads or the order they run in — and a resumed run draws the same masks (ijepa-spec.md 2.6,
// footnote 1; the Python reference is tests/fixtures/masks/reference_multiblock.py).
#include <cstdint>

namespace ijepa::sdk {

// SplitMix64 finaliser of (x + golden gamma), unsigned 64-bit wrap-around arithmetic.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// position_seed(run_seed, batch_number) = splitmix64(splitmix64(run_seed) XOR batch_number); used as
// torch.Generator().manual_seed(position_seed). (torch's CPU mt19937 uses only the low 32 bits of a seed.)
constexpr std::uint64_t position_seed(std::uint64_t run_seed, std::uint64_t batch_number) {
  return splitmix64(splitmix64(run_seed) ^ batch_number);
}

}  // namespace ijepa::sdk
