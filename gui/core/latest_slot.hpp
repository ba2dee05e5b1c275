#pragma once
// A mutex-protected latest-value slot: a producer thread publishes frames, the UI thread takes the newest one.
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>

namespace ijepa::gui {

template <class T>
class LatestSlot {
 public:
  // publish(v): replaces whatever is waiting (older unread values are dropped).
  void publish(T value) {
    std::lock_guard<std::mutex> lock(mu_);
    value_ = std::move(value);
    ++published_;
  }
  // take() -> the newest unread value, or nullopt when nothing new was published since the last take().
  std::optional<T> take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<T> out = std::move(value_);
    value_.reset();
    return out;
  }
  std::uint64_t published() const {
    std::lock_guard<std::mutex> lock(mu_);
    return published_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<T> value_;
  std::uint64_t published_ = 0;
};

}  // namespace ijepa::gui
