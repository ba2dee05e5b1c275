#include "ijepa/host/build_config.hpp"
#include "ijepa/host/util/cuda_info.hpp"

#include <torch/cuda.h>

#if IJEPA_TORCH_HAS_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace ijepa::host::util {

bool cuda_available() { return torch::cuda::is_available(); }

std::string cuda_summary() {
  if (!torch::cuda::is_available()) {
    return "CUDA: not available (no usable GPU or driver; training runs on the CPU)";
  }
  std::string s = "CUDA: available, " + std::to_string(torch::cuda::device_count()) + " device(s)";
#if IJEPA_TORCH_HAS_CUDA
  const auto* prop = at::cuda::getDeviceProperties(0);
  s += ": " + std::string(prop->name) + " (sm_" + std::to_string(prop->major) + std::to_string(prop->minor) + ", " +
       std::to_string(prop->totalGlobalMem >> 20) + " MiB)";
#endif
  return s;
}

}  // namespace ijepa::host::util
