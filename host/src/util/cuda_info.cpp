#include "ijepa/host/build_config.hpp"
#include "ijepa/host/util/cuda_info.hpp"

#include <cstdlib>
#include <string_view>

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
  if (const std::string name = cuda_device_name(); !name.empty()) s += ": " + name;
  return s;
}

std::string cuda_device_name() {
#if IJEPA_TORCH_HAS_CUDA
  if (torch::cuda::is_available()) {
    const auto* prop = at::cuda::getDeviceProperties(0);
    return std::string(prop->name) + " (sm_" + std::to_string(prop->major) + std::to_string(prop->minor) + ", " +
           std::to_string(prop->totalGlobalMem >> 20) + " MiB)";
  }
#endif
  return "";
}

std::string out_of_memory_message(const std::string& device, std::int64_t step, const std::string& torch_line) {
  std::string line = torch_line.substr(0, torch_line.find('\n'));
  std::string s = "out of GPU memory on " + device + (step >= 0 ? " at step " + std::to_string(step) : "") + " (" +
                  line + ")";
  const char* jobs = std::getenv("IJEPA_SWEEP_JOBS");
  const char* conf = std::getenv("PYTORCH_CUDA_ALLOC_CONF");
  std::string fraction;
  if (conf != nullptr) {
    const std::string_view c(conf);
    const std::string_view key = "per_process_memory_fraction:";
    if (const auto at = c.find(key); at != std::string_view::npos) {
      const std::string_view rest = c.substr(at + key.size());
      fraction = std::string(rest.substr(0, rest.find(',')));
    }
  }
  if (jobs != nullptr && !fraction.empty()) {
    s += ": this trial may use " + fraction + " of the card's memory, one share of `ijepa sweep --jobs " +
         std::string(jobs) + "`; run fewer trials at once (--jobs) or lower train.batch_size";
  } else if (!fraction.empty()) {
    s += ": PYTORCH_CUDA_ALLOC_CONF limits this process to " + fraction +
         " of the card's memory; raise that fraction or lower train.batch_size";
  } else {
    s += ": lower train.batch_size (or use train.accum_steps for the same optimiser batch)";
  }
  return s;
}

}  // namespace ijepa::host::util
