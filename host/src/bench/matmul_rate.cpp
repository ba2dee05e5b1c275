#include "ijepa/host/bench/matmul_rate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <ATen/ATen.h>
#include <torch/cuda.h>

#include "ijepa/sdk/linear.hpp"

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
  const std::string type = dtype == at::kBFloat16 ? "bf16" : dtype == at::kFloat ? "fp32" : c10::toString(dtype);
  return format_flops(flops_per_s, "FLOP/s") + " (" + type +
         " " + std::to_string(n) + "x" + std::to_string(n) + " matmul, " + kernel + ")";
}

namespace {
// The best rate of `reps` timed calls of multiply() (one n x n x n product each) after one warm-up.
template <class F>
double best_rate(const c10::Device& device, std::int64_t n, int reps, F&& multiply) {
  multiply();  // warm-up (kernel selection, thread pool start)
  synchronize(device);
  double best = 0.0;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    multiply();
    synchronize(device);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
    if (dt > 0) best = std::max(best, flops / dt);
  }
  return best;
}
}  // namespace

MatmulRate measure_matmul_rate(const c10::Device& device, at::ScalarType dtype, std::int64_t n, int reps) {
  at::NoGradGuard no_grad;
  const auto opts = at::TensorOptions().device(device).dtype(dtype);
  const at::Tensor a = at::randn({n, n}, opts);
  const at::Tensor b = at::randn({n, n}, opts);
  at::Tensor c = at::empty({n, n}, opts);
  MatmulRate r;
  r.flops_per_s = best_rate(device, n, reps, [&] { at::mm_out(c, a, b); });
  r.n = n;
  r.dtype = dtype;
  return r;
}

MatmulRate measure_onednn_rate(std::int64_t n, int reps) {
  at::NoGradGuard no_grad;
  MatmulRate r;
  r.n = n;
  r.dtype = at::kFloat;
  r.kernel = "oneDNN inner product";
  const at::Tensor a = at::randn({n, n});
  const at::Tensor b = at::randn({n, n});
  if (!sdk::onednn_linear_applies(a, b)) return r;
  r.flops_per_s = best_rate(c10::Device(c10::kCPU), n, reps, [&] { (void)sdk::linear(a, b, at::Tensor()); });
  return r;
}

}  // namespace ijepa::host::bench
