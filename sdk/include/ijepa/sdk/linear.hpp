#pragma once
// linear(x, weight, bias, kernel): F.linear (x W^T + b), with the CPU's faster fp32 kernel (SDK 1.2). Inline, so
// it adds nothing to the ABI.
//
// On the CPU, at::linear runs fp32 through MKL's sgemm. oneDNN's inner product (the mkldnn::_linear_pointwise op of
// every torch build with oneDNN) computes the same fp32 product (no reduced-precision math; only the summation order
// differs) about 2x faster on the AMD Zen 4 CPUs we measured: a 1024^3 multiply at 470-518 against 211-239 GFLOP/s,
// the ViT-Tiny/4 training step in 0.54 instead of 0.86 s (docs/benchmarks.md). kAuto takes it, with a backward of the
// same kernel, wherever it applies: fp32 strided CPU tensors, no CPU autocast, oneDNN enabled and the op present.
// Everything else (CUDA, bf16 autocast on the CPU, which ATen already sends to oneDNN, other dtypes) is at::linear.
// kAten is always at::linear, to measure one against the other.
#include <cstdint>
#include <optional>
#include <string_view>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>

namespace ijepa::sdk {

enum class LinearKernel { kAuto, kAten };

namespace detail {

using OneDnnLinearSignature = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                                         c10::string_view, c10::List<std::optional<at::Scalar>>,
                                         std::optional<c10::string_view>);

// The oneDNN inner-product op, or nullptr where this torch build has none (or a different signature).
inline const c10::TypedOperatorHandle<OneDnnLinearSignature>* onednn_linear_op() {
  static const std::optional<c10::TypedOperatorHandle<OneDnnLinearSignature>> op =
      []() -> std::optional<c10::TypedOperatorHandle<OneDnnLinearSignature>> {
    if (!at::hasMKLDNN()) return std::nullopt;
    try {
      const auto handle = c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
      if (!handle || !handle->hasKernelForDispatchKey(c10::DispatchKey::CPU)) return std::nullopt;
      return handle->typed<OneDnnLinearSignature>();
    } catch (const c10::Error&) {
      return std::nullopt;
    }
  }();
  return op ? &*op : nullptr;
}

// x [..., K] · w [N, K]^T (+ b [N]) -> [..., N] through oneDNN; w may be a strided view (a transpose).
inline at::Tensor onednn_linear_raw(const at::Tensor& x, const at::Tensor& w, const std::optional<at::Tensor>& b) {
  return onednn_linear_op()->call(x, w, b, "none", c10::List<std::optional<at::Scalar>>(), std::nullopt);
}

// The product and its backward in oneDNN. dX = dY W; dW = dY^T X, taken as the transpose of X^T dY when K <= N so
// that the operand oneDNN makes contiguous is the narrower one; db = the column sums of dY. First-order gradients
// only: the backward is not differentiable again (use kAten where a double backward is needed).
struct OneDnnLinearFunction : public torch::autograd::Function<OneDnnLinearFunction> {
  // b: std::nullopt without a bias (an undefined at::Tensor cannot be a custom function's input).
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const std::optional<at::Tensor>& b) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["has_bias"] = b.has_value();
    return onednn_linear_raw(x, w, b);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const std::int64_t n = w.size(0);
    const std::int64_t k = w.size(1);
    const at::Tensor g = grads[0].reshape({-1, n});
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = onednn_linear_raw(g, w.t(), std::nullopt).view(x.sizes());
    if (ctx->needs_input_grad(1)) {
      const at::Tensor x2 = x.reshape({-1, k});
      dw = k <= n ? onednn_linear_raw(x2.t(), g.t(), std::nullopt).t() : onednn_linear_raw(g.t(), x2.t(), std::nullopt);
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = g.sum(0);
    return {dx, dw, db};
  }
};

}  // namespace detail

// Whether kAuto takes oneDNN for x and w (see the top of this file).
inline bool onednn_linear_applies(const at::Tensor& x, const at::Tensor& w) {
  return x.device().is_cpu() && w.device().is_cpu() && x.layout() == at::kStrided && w.layout() == at::kStrided &&
         x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat && x.dim() >= 2 && w.dim() == 2 &&
         x.numel() > 0 && !at::autocast::is_autocast_enabled(at::kCPU) && at::globalContext().userEnabledMkldnn() &&
         detail::onednn_linear_op() != nullptr;
}

// linear(x [..., K], weight [N, K], bias [N] or undefined, kernel) -> [..., N]: the same function as at::linear.
inline at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         LinearKernel kernel = LinearKernel::kAuto) {
  if (kernel == LinearKernel::kAuto && onednn_linear_applies(x, weight) &&
      (!bias.defined() || (bias.device().is_cpu() && bias.scalar_type() == at::kFloat))) {
    return detail::OneDnnLinearFunction::apply(x, weight,
                                               bias.defined() ? std::optional<at::Tensor>(bias) : std::nullopt);
  }
  return at::linear(x, weight, bias);
}

}  // namespace ijepa::sdk
