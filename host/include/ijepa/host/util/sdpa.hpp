#pragma once
// The CUDA backends of at::scaled_dot_product_attention, chosen explicitly (train.sdpa, `ijepa bench train --sdpa`)
// instead of left to torch's per-architecture preference. On Hopper torch prefers cuDNN attention, which builds a
// plan for every new sequence length; I-JEPA's context and target lengths change every batch (multi-block masks),
// so that preference made the step 3x slower than the official code on an H200 (issue #16's measurements).
#include <string>

namespace ijepa::host::util {

// apply_sdpa_policy(policy) sets the process-wide choice and returns its description:
//   "fused" (default)  flash attention, then memory-efficient, then math; cuDNN attention off (no per-shape plans)
//   "torch"            torch's own preference (cuDNN attention allowed and, on Hopper, first)
// ConfigError("train.sdpa: ...") for another value. Affects CUDA only (the CPU kernels are unchanged).
std::string apply_sdpa_policy(const std::string& policy);
// The choice in force now, e.g. "fused (flash > efficient > math; cuDNN attention off)".
std::string sdpa_description();

}  // namespace ijepa::host::util
