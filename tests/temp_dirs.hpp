#pragma once
// Scratch directories for tests, under the system temp directory and named after the test process. Each is removed
// when the test program ends with every test passed; after a failure they stay, for inspection (and
// IJEPA_KEEP_TEST_DIRS=1 keeps them always). Without this, every ctest run left ~1,500 directories in /tmp.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

namespace ijepa::test {

class TempDirRegistry {
 public:
  void add(const std::filesystem::path& d) {
    std::lock_guard<std::mutex> lock(mutex_);
    dirs_.push_back(d);
  }
  // Runs at exit, before GoogleTest's UnitTest (constructed earlier, so destroyed later). A forked child that calls
  // exit() removes nothing: the directories belong to the process that made them.
  ~TempDirRegistry() {
    if (::getpid() != owner_) return;
    const char* keep = std::getenv("IJEPA_KEEP_TEST_DIRS");
    if (keep != nullptr && *keep != '\0' && std::string(keep) != "0") return;
    if (::testing::UnitTest::GetInstance()->Failed()) return;
    for (const auto& d : dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);  // best effort: a directory a test made read-only may stay
    }
  }

 private:
  std::mutex mutex_;
  std::vector<std::filesystem::path> dirs_;
  pid_t owner_ = ::getpid();
};

inline TempDirRegistry& temp_dir_registry() {
  static TempDirRegistry registry;
  return registry;
}

// fresh_temp_dir("ijepa_x") -> an empty directory <tmp>/ijepa_x_<pid>, removed at exit as above.
inline std::filesystem::path fresh_temp_dir(const std::string& prefix) {
  auto d = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  temp_dir_registry().add(d);
  return d;
}

}  // namespace ijepa::test
