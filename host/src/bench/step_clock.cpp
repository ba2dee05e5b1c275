#include "ijepa/host/bench/step_clock.hpp"

#include <c10/core/impl/VirtualGuardImpl.h>

#include "ijepa/host/bench/matmul_rate.hpp"

namespace ijepa::host::bench {

StepClock::StepClock(const c10::Device& device) : device_(device) {}

void StepClock::mark() {
  if (!device_.is_cuda()) {
    host_.push_back(std::chrono::steady_clock::now());
    return;
  }
  const c10::impl::VirtualGuardImpl impl(device_.type());
  const c10::Device d = device_.has_index() ? device_ : impl.getDevice();
  // BACKEND_DEFAULT: a CUDA event with timing enabled (PyTorch's default disables it).
  events_.emplace_back(d.type(), c10::EventFlag::BACKEND_DEFAULT);
  events_.back().record(impl.getStream(d));
}

std::vector<double> StepClock::seconds() {
  std::vector<double> out;
  if (!device_.is_cuda()) {
    for (std::size_t i = 1; i < host_.size(); ++i) {
      out.push_back(std::chrono::duration<double>(host_[i] - host_[i - 1]).count());
    }
    return out;
  }
  synchronize(device_);
  for (std::size_t i = 1; i < events_.size(); ++i) out.push_back(events_[i - 1].elapsedTime(events_[i]) / 1000.0);
  return out;
}

}  // namespace ijepa::host::bench
