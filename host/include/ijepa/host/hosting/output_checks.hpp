#pragma once
// The SDK's output contracts checked where a component's tokens come back (training's forward, feature extraction),
// so that a wrong shape or dtype names the plugin that made it, not the next component that trips over it, or
// nothing where broadcasting hides it (a [1, K, D] prediction against [B, K, D] targets). Metadata only: no sync.
#include <array>
#include <cstdint>
#include <string>

#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>

#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

// check_tokens(who, t, want, call, names): PluginError unless t is a defined [want[0], want[1], want[2]] tensor of
// float32, or of bf16/float16 while autocast is on for its device; float64 is refused: the host trains in float32 (a
// bf16 encoder output on a float32 run was blamed on the predictor's matmul). `call` and `names` word
// the message: "encoder/x: encode(images) returned shape [8, 65, 32], not [8, 64, 32] [B, N, D]".
template <class T>
void check_tokens(const Component<T>& who, const at::Tensor& t, const std::array<std::int64_t, 3>& want,
                  const std::string& call, const std::string& names) {
  auto dims = [](const auto& v, std::size_t n) {
    std::string out = "[";
    for (std::size_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(v[i]);
    return out + "]";
  };
  if (!t.defined()) throw PluginError(who.plugin_id, who.type + ": " + call + " returned an undefined tensor");
  const bool shape_ok = t.dim() == 3 && t.size(0) == want[0] && t.size(1) == want[1] && t.size(2) == want[2];
  if (!shape_ok) {
    throw PluginError(who.plugin_id, who.type + ": " + call + " returned shape " +
                                         dims(t.sizes(), static_cast<std::size_t>(t.dim())) + ", not " +
                                         dims(want, 3) + " " + names);
  }
  const at::ScalarType st = t.scalar_type();
  const bool autocast = at::autocast::is_autocast_enabled(t.device().type());
  if (st != at::kFloat && !(autocast && (st == at::kBFloat16 || st == at::kHalf))) {
    throw PluginError(who.plugin_id, who.type + ": " + call + " returned " + c10::toString(st) +
                                         " tokens, not float32 (or bf16/float16 under autocast" +
                                         (autocast ? ")" : ", which is off here)"));
  }
}

}  // namespace ijepa::host
