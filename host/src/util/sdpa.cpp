#include "ijepa/host/util/sdpa.hpp"

#include <ATen/Context.h>

#include "ijepa/host/util/errors.hpp"

namespace ijepa::host::util {

namespace {
std::string g_policy = "torch";  // what the process has until apply_sdpa_policy runs
}  // namespace

std::string apply_sdpa_policy(const std::string& policy) {
  auto& ctx = at::globalContext();
  if (policy == "fused") {
    ctx.setSDPPriorityOrder({static_cast<int64_t>(at::SDPBackend::flash_attention),
                             static_cast<int64_t>(at::SDPBackend::efficient_attention),
                             static_cast<int64_t>(at::SDPBackend::math),
                             static_cast<int64_t>(at::SDPBackend::cudnn_attention),
                             static_cast<int64_t>(at::SDPBackend::overrideable)});
    ctx.setSDPUseFlash(true);
    ctx.setSDPUseMemEfficient(true);
    ctx.setSDPUseMath(true);
    ctx.setSDPUseCuDNN(false);
  } else if (policy == "torch") {
    ctx.setSDPUseFlash(true);
    ctx.setSDPUseMemEfficient(true);
    ctx.setSDPUseMath(true);
    ctx.setSDPUseCuDNN(true);
  } else {
    throw ConfigError("train.sdpa: expected fused or torch, got '" + policy + "'");
  }
  g_policy = policy;
  return sdpa_description();
}

std::string sdpa_description() {
  const auto& ctx = at::globalContext();
  std::string enabled;
  auto add = [&](bool on, const char* name) {
    if (on) enabled += std::string(enabled.empty() ? "" : " > ") + name;
  };
  add(ctx.userEnabledFlashSDP(), "flash");
  add(ctx.userEnabledMemEfficientSDP(), "efficient");
  add(ctx.userEnabledMathSDP(), "math");
  return g_policy + " (" + enabled + (ctx.userEnabledCuDNNSDP() ? "; cuDNN attention allowed" : "; cuDNN attention off") +
         ")";
}

}  // namespace ijepa::host::util
