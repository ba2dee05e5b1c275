#include "ijepa/host/log/progress_line.hpp"

#include <cmath>
#include <cstdio>

#include "ijepa/host/log/logging.hpp"

namespace ijepa::host {

namespace {
std::string hms(double seconds) {
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}
}  // namespace

std::string progress_text(const std::string& what, std::int64_t done, std::int64_t total, double rate) {
  std::string t = what + ": " + std::to_string(done) + "/" + std::to_string(total) + " images";
  if (total > 0) t += " (" + std::to_string(done * 100 / total) + " %)";
  if (rate > 0) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", rate);
    t += std::string(", ") + buf + " images/s";
    if (done < total) t += ", " + hms(static_cast<double>(total - done) / rate) + " left";
  }
  return t;
}

ProgressLine::ProgressLine(std::ostream& out, bool live, std::chrono::milliseconds every)
    : out_(out), live_(live), every_(every) {}

void ProgressLine::update(const std::string& what, std::int64_t done, std::int64_t total) {
  if (!live_) return;
  const auto now = std::chrono::steady_clock::now();
  if (what != what_ || !open_) {
    finish();
    what_ = what;
    t0_ = now;
    done0_ = done;
  } else if (done < total && now - last_ < every_ && !erased_) {
    return;
  }
  last_ = now;
  // \r and "erase to the end of the line": a shorter line leaves nothing of the longer one before it.
  // The rate from the images done since this part's first report, over the time since (both after its first batch).
  const double secs = std::chrono::duration<double>(now - t0_).count();
  const double rate = secs > 0 ? static_cast<double>(done - done0_) / secs : 0.0;
  if (!open_) {  // registered before the first draw: a message from another thread erases it, never joins it
    logging::set_console_line([this] {
      if (erased_.exchange(true)) return;
      out_ << "\r\033[K" << std::flush;
    });
  }
  const std::string text = progress_text(what, done, total, rate);
  logging::with_console([&] {  // drawn and marked shown as one, between log messages
    out_ << "\r\033[K" << text << std::flush;
    erased_ = false;
  });
  open_ = true;
}

void ProgressLine::finish() {
  if (!open_) return;
  logging::set_console_line({});
  if (!erased_) logging::with_console([&] { out_ << "\n" << std::flush; });
  open_ = false;
}

}  // namespace ijepa::host
