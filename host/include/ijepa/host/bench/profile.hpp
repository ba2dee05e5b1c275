#pragma once
// StepProfiler: the torch (Kineto) profiler around a span of training steps, saved as a Chrome trace that
// Perfetto or chrome://tracing opens, and summarised by tools/trace_ops.py. CPU ops always; CUDA kernels too
// when the device is CUDA.
#include <string>

namespace ijepa::host::bench {

class StepProfiler {
 public:
  // Prepares the profiler (its set-up is not timed). Throws std::runtime_error (one line) if it cannot.
  StepProfiler(std::string path, bool cuda);
  ~StepProfiler();  // stops the profiler if it is still running (without saving)
  void start();
  // Stops and writes the trace to the path given at construction. Throws std::runtime_error on failure.
  void stop_and_save();
  const std::string& path() const { return path_; }

  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

 private:
  std::string path_;
  bool cuda_;
  bool running_ = false;
};

}  // namespace ijepa::host::bench
