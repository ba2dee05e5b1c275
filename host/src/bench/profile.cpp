#include "ijepa/host/bench/profile.hpp"

#include <set>
#include <stdexcept>
#include <utility>

#include <torch/csrc/autograd/profiler_kineto.h>

namespace ijepa::host::bench {

namespace {

using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

std::set<ActivityType> activities(bool cuda) {
  std::set<ActivityType> a = {ActivityType::CPU};
  if (cuda) a.insert(ActivityType::CUDA);
  return a;
}

ProfilerConfig config() { return ProfilerConfig(ProfilerState::KINETO, /*report_input_shapes=*/true); }

}  // namespace

StepProfiler::StepProfiler(std::string path, bool cuda) : path_(std::move(path)), cuda_(cuda) {
  try {
    torch::autograd::profiler::prepareProfiler(config(), activities(cuda_));
  } catch (const std::exception& e) {
    throw std::runtime_error("--profile: the torch profiler cannot start: " + std::string(e.what()).substr(0, 200));
  }
}

StepProfiler::~StepProfiler() {
  if (!running_) return;
  try {
    torch::autograd::profiler::disableProfiler();
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing to report from a destructor
  }
}

void StepProfiler::start() {
  torch::autograd::profiler::enableProfiler(config(), activities(cuda_));
  running_ = true;
}

void StepProfiler::stop_and_save() {
  if (!running_) throw std::runtime_error("--profile: the profiler was not started");
  running_ = false;
  auto result = torch::autograd::profiler::disableProfiler();
  if (!result) throw std::runtime_error("--profile: the profiler returned no result");
  try {
    result->save(path_);
  } catch (const std::exception& e) {
    throw std::runtime_error("--profile: cannot write " + path_ + ": " + std::string(e.what()).substr(0, 200));
  }
}

}  // namespace ijepa::host::bench
