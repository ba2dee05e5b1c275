#pragma once
// The dense matrix-multiply rate of a device, measured (the MFU denominator of `ijepa bench train`).
#include <cstdint>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace ijepa::host::bench {

struct MatmulRate {
  double flops_per_s = 0.0;  // best of the timed repetitions, 2*n^3 per multiply
  std::int64_t n = 0;        // square size
  at::ScalarType dtype = at::kFloat;
  std::string kernel = "at::mm";  // what multiplied: "at::mm" or "oneDNN inner product"
  std::string describe() const;  // "412.3 GFLOP/s (bf16 8192x8192 matmul, at::mm)"
};

// measure_matmul_rate(device, dtype, n, reps): times `reps` n x n x n multiplies after one warm-up (CUDA:
// synchronised) with the current intra-op thread count, and returns the best rate.
MatmulRate measure_matmul_rate(const c10::Device& device, at::ScalarType dtype, std::int64_t n, int reps);

// measure_onednn_rate(n, reps): the same for fp32 on the CPU through sdk::linear where it takes oneDNN's inner
// product; flops_per_s 0 where it does not (no oneDNN op in this torch build, or oneDNN disabled).
MatmulRate measure_onednn_rate(std::int64_t n, int reps);

// Blocks until queued work on `device` is done (no-op on the CPU).
void synchronize(const c10::Device& device);

// Human-readable FLOP rate / count: "1.23 TFLOP/s", "45.6 GFLOP".
std::string format_flops(double v, const std::string& unit);

}  // namespace ijepa::host::bench
