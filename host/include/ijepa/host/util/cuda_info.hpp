#pragma once
#include <cstdint>
#include <string>

namespace ijepa::host::util {
// "CUDA: available, N device(s): NAME" or "CUDA: not available (...)".
std::string cuda_summary();
bool cuda_available();
// The first CUDA device as "NAME (sm_XY, N MiB)"; empty where CUDA is not usable.
std::string cuda_device_name();

// out_of_memory_message(device, step, torch_line) -> one line for a CUDA out-of-memory error at optimiser step `step`
// (< 0: before training): the device, torch's first line, and, for a trial of `ijepa sweep --jobs N` (the
// environment's IJEPA_SWEEP_JOBS and PYTORCH_CUDA_ALLOC_CONF's per_process_memory_fraction, which the sweep sets),
// that trial's share of the card and what to change.
std::string out_of_memory_message(const std::string& device, std::int64_t step, const std::string& torch_line);
}  // namespace ijepa::host::util
