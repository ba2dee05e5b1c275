#include "ijepa/host/data/mask_check.hpp"

#include <ATen/ATen.h>

namespace ijepa::host {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

std::string one_problem(const at::Tensor& m, std::int64_t batch, std::int64_t n) {
  if (!m.defined()) return "is an undefined tensor";
  if (m.scalar_type() != at::kLong) return std::string("has dtype ") + c10::toString(m.scalar_type()) + ", not int64";
  if (m.dim() != 2 || m.size(0) != batch) {
    return "has shape " + shape_of(m) + ", not [" + std::to_string(batch) + ", K] (batch " + std::to_string(batch) +
           ")";
  }
  if (m.size(1) < 1) return "is empty (K = 0 patches)";
  if (!m.device().is_cpu()) return "is on " + m.device().str() + " (masks are CPU tensors; the host moves them)";
  if (m.numel() == 0) return "";  // batch 0: no ids to check
  const std::int64_t lo = m.min().item<std::int64_t>(), hi = m.max().item<std::int64_t>();
  if (lo < 0) return "has patch id " + std::to_string(lo) + ", below 0";
  if (hi >= n) {
    return "has patch id " + std::to_string(hi) + " outside the " + std::to_string(n) +
           " patches of the grid (ids 0.." + std::to_string(n - 1) + ")";
  }
  return "";
}

}  // namespace

std::string mask_set_problem(const sdk::MaskSet& ms, std::int64_t batch, std::int64_t num_patches) {
  if (ms.context.empty()) return "returned no context mask";
  if (ms.target.empty()) return "returned no target mask";
  for (const auto& [list, name] : {std::make_pair(&ms.context, "context"), std::make_pair(&ms.target, "target")}) {
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string p = one_problem((*list)[i], batch, num_patches);
      if (!p.empty()) return std::string(name) + " mask " + std::to_string(i) + " " + p;
    }
  }
  return "";
}

}  // namespace ijepa::host
