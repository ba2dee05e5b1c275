#pragma once
// A progress line for long work outside training (`ijepa eval`, `ijepa embed`): rewritten in place on a terminal, at
// most a few times a second; nothing where the stream is not a terminal, so logs and pipes keep one line per fact.
// A log message printed to the console while the line is open erases it first; the next update draws it again.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace ijepa::host {

// "target encoder, train split: 12800/60000 images (21 %), 950 images/s, 0:00:49 left" (rate in images/s; <= 0:
// not known yet, left out)
std::string progress_text(const std::string& what, std::int64_t done, std::int64_t total, double rate);

class ProgressLine {
 public:
  // `live`: write at all (a terminal); `every`: the least time between two lines of one part (its last always shows).
  ProgressLine(std::ostream& out, bool live, std::chrono::milliseconds every = std::chrono::milliseconds(200));
  ~ProgressLine() { finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  // Another `what` ends the line of the one before.
  void update(const std::string& what, std::int64_t done, std::int64_t total);
  // Ends the current line (before other output).
  void finish();

 private:
  std::ostream& out_;
  bool live_;
  std::chrono::milliseconds every_;
  std::string what_;
  std::chrono::steady_clock::time_point t0_{}, last_{};
  std::int64_t done0_ = 0;  // images done at t0_ (the first report of a part comes after its first batch)
  bool open_ = false;
  std::atomic<bool> erased_{false};  // a log message erased the open line (logging::set_console_line)
};

}  // namespace ijepa::host
