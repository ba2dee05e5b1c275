#pragma once
#include <string>

namespace ijepa::host::util {
// "CUDA: available, N device(s): NAME" or "CUDA: not available (...)".
std::string cuda_summary();
bool cuda_available();
}  // namespace ijepa::host::util
