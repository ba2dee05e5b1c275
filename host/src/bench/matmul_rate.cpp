#include "bench/matmul_rate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <ATen/ATen.h>
#include <torch/cuda.h>

namespace ijepa::host::bench {

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

std::string format_flops(double v, const std::string& unit) {
  const char* prefix = "";
  double x = v;
  for (const char* p : {"k", "M", "G", "T", "P"}) {
    if (x < 1000.0) break;
    x /= 1000.0;
    prefix = p;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g %s%s", x, prefix, unit.c_str());
  return buf;
}

std::string MatmulRate::describe() const {
  return format_flops(flops_per_s, "FLOP/s") + " (" + std::string(dtype == at::kBFloat16 ? "bf16" : c10::toString(dtype)) +
         " " + std::to_string(n) + "x" + std::to_string(n) + " matmul)";
}

MatmulRate measure_matmul_rate(const c10::Device& device, at::ScalarType dtype, std::int64_t n, int reps) {
  at::NoGradGuard no_grad;
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  const at::Tensor a = at::randn({n, n}, opts);
  const at::Tensor b = at::randn({n, n}, opts);
  at::Tensor c = at::empty({n, n}, opts);
  at::mm_out(c, a, b);  // warm-up (kernel selection, thread pool start)
  synchronize(device);
  double best = 0.0;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    at::mm_out(c, a, b);
    synchronize(device);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > 0) best = std::max(best, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / dt);
  }
  MatmulRate r;
  r.flops_per_s = best;
  r.n = n;
  r.dtype = dtype;
  return r;
}

}  // namespace ijepa::host::bench
