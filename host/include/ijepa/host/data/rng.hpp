#pragma once
// Counter-based randomness: every sample's random numbers derive from (seed, epoch, index), so results do not
// depend on which worker thread produced them.
#include <cmath>
#include <cstdint>

namespace ijepa::host {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) { return splitmix64(a ^ splitmix64(b + 0x632be59bd9b4e019ull)); }
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c) { return mix_seed(mix_seed(a, b), c); }

// A small deterministic generator (splitmix64 stream).
class SampleRng {
 public:
  explicit SampleRng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return splitmix64(state_++); }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // integer in [lo, hi] inclusive
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo + 1);
    return lo + static_cast<std::int64_t>(next() % span);
  }

 private:
  std::uint64_t state_;
};

}  // namespace ijepa::host
