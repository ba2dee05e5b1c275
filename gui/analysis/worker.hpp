#pragma once
// One background thread running jobs in order (the analysis work: plugins are "one thread at a time", so one
// worker owns them). post() never blocks on a running job; idle() says whether everything posted has finished.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ijepa::gui {

class Worker {
 public:
  Worker() : thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      jobs_.clear();
    }
    cv_.notify_all();
    thread_.join();
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // post(job): runs job after the ones already posted. A job must not throw (exceptions are swallowed).
  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
  bool idle() const {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.empty() && !busy_;
  }
  // wait_idle(): blocks until every posted job has finished (for tests and screenshots).
  void wait_idle() {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return jobs_.empty() && !busy_; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
      lock.unlock();
      try {
        job();
      } catch (...) {
      }
      lock.lock();
      busy_ = false;
      done_.notify_all();
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_, done_;
  std::deque<std::function<void()>> jobs_;
  bool busy_ = false, stop_ = false;
  std::thread thread_;
};

}  // namespace ijepa::gui
