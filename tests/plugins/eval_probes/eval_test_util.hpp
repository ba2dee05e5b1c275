#pragma once
// Helpers shared by the eval_probes tests: seeded synthetic feature splits.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "ijepa/sdk/evaluator.hpp"

namespace ijepa::plugins::eval_probes::test {

inline at::Generator gen(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// Gaussian clusters: class c has centre centres[c] (float32 [C, F]), rows centre + N(0, noise^2), labels
// 0..C-1 repeated per_class times (class-major order).
inline sdk::FeatureSplit clusters(const at::Tensor& centres, std::int64_t per_class, double noise, at::Generator& g) {
  const std::int64_t C = centres.size(0), F = centres.size(1);
  const at::Tensor y = at::arange(C, at::kLong).repeat_interleave(per_class);
  const at::Tensor x = centres.index_select(0, y) + noise * at::randn({C * per_class, F}, g);
  return {x.contiguous(), y};
}

// random_centres(C, F, scale, g) -> float32 [C, F] ~ N(0, scale^2).
inline at::Tensor random_centres(std::int64_t C, std::int64_t F, double scale, at::Generator& g) {
  return scale * at::randn({C, F}, g);
}

// separable(C, F, train_per_class, test_per_class, seed) -> well separated clusters (centre scale 3, noise 1).
inline sdk::EvalInput separable(std::int64_t C, std::int64_t F, std::int64_t train_per_class,
                                std::int64_t test_per_class, std::uint64_t seed) {
  at::Generator g = gen(seed);
  const at::Tensor centres = random_centres(C, F, 3.0, g);
  sdk::EvalInput in;
  in.train = clusters(centres, train_per_class, 1.0, g);
  in.test = clusters(centres, test_per_class, 1.0, g);
  in.num_classes = C;
  in.seed = seed;
  return in;
}

// expect_one_line_error(fn, needle): fn throws a std::exception whose message is one line containing needle.
template <class Fn>
void expect_one_line_error(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one containing: " << needle;
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected to contain: " << needle;
  }
}

}  // namespace ijepa::plugins::eval_probes::test
