#pragma once
// Per-step times without waiting for the device inside the timed loop. CUDA: an event recorded on the current stream
// at every step boundary, read after one synchronisation at the end (what the GPU stream saw between boundaries,
// including any time it sat idle waiting for the host). CPU: the host clock, the work being synchronous there.
#include <chrono>
#include <vector>

#include <c10/core/Device.h>
#include <c10/core/Event.h>

namespace ijepa::host::bench {

class StepClock {
 public:
  explicit StepClock(const c10::Device& device);
  // Marks a step boundary; n marks delimit n - 1 steps.
  void mark();
  // The seconds between consecutive marks (synchronises the device once).
  std::vector<double> seconds();

 private:
  c10::Device device_;
  std::vector<c10::Event> events_;                               // CUDA
  std::vector<std::chrono::steady_clock::time_point> host_;      // CPU
};

}  // namespace ijepa::host::bench
