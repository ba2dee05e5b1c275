// The process module (host/src/proc): what the trainer, the sweep runner and the launcher share.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "ijepa/host/proc/process.hpp"

namespace fs = std::filesystem;
using namespace ijepa::host;

namespace {

fs::path temp_file(const std::string& tag) {
  const fs::path p = fs::temp_directory_path() / ("ijepa_proc_" + tag + "_" + std::to_string(::getpid()));
  fs::remove(p);
  return p;
}

int forked_child_status(int exit_code, int signal_to_raise) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (signal_to_raise != 0) ::raise(signal_to_raise);
    ::_exit(exit_code);
  }
  int ws = 0;
  EXPECT_EQ(::waitpid(pid, &ws, 0), pid);
  return ws;
}

int wait_status(pid_t pid) {
  int ws = 0;
  EXPECT_EQ(::waitpid(pid, &ws, 0), pid);
  return ws;
}

}  // namespace

TEST(StopSignals, RecordsTheSignalAndRestoresTheHandler) {
  {
    const proc::StopSignals signals;
    EXPECT_FALSE(proc::stop_requested().load());
    ASSERT_EQ(::raise(SIGTERM), 0);
    EXPECT_TRUE(proc::stop_requested().load());
    EXPECT_EQ(proc::StopSignals::last(), SIGTERM);
    EXPECT_EQ(proc::StopSignals::count(), 1);
    EXPECT_EQ(proc::StopSignals::take(), SIGTERM);
    EXPECT_EQ(proc::StopSignals::last(), 0);
  }
  struct sigaction now {};
  ::sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL) << "the previous (default) handler is back";
}

TEST(StopSignals, SecondEndsRestoresTheDefaultAfterTheFirst) {
  const proc::StopSignals signals(proc::StopSignals::Options{true, true});
  ASSERT_EQ(::raise(SIGINT), 0);
  struct sigaction now {};
  ::sigaction(SIGINT, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL) << "a second Ctrl-C would end the process";
  struct sigaction term {};
  ::sigaction(SIGTERM, nullptr, &term);
  EXPECT_NE(term.sa_handler, SIG_DFL) << "the other signal is still caught";
}

TEST(SignalName, NamesAndDescribes) {
  EXPECT_EQ(proc::signal_name(SIGKILL, false), "SIGKILL");
  EXPECT_EQ(proc::signal_name(SIGKILL).rfind("SIGKILL (", 0), 0u);
}

TEST(FileLock, ASecondHolderIsRefusedUntilTheFirstLetsGo) {
  const fs::path f = temp_file("lock");
  {
    std::optional<proc::FileLock> a = proc::FileLock::try_acquire(f);
    ASSERT_TRUE(a && a->held());
    EXPECT_FALSE(proc::FileLock::try_acquire(f).has_value()) << "flock conflicts across descriptors";
    ASSERT_TRUE(proc::lock_holder(f).has_value());
    EXPECT_EQ(*proc::lock_holder(f), static_cast<long>(::getpid()));
    proc::FileLock moved = std::move(*a);
    EXPECT_TRUE(moved.held());
    EXPECT_FALSE(proc::FileLock::try_acquire(f).has_value()) << "moving keeps the lock";
  }
  EXPECT_TRUE(proc::FileLock::try_acquire(f).has_value()) << "released with its holder";
  EXPECT_THROW(proc::FileLock::try_acquire(f / "no" / "such"), std::runtime_error);
  fs::remove(f);
}

// acquire() waits for a holder in another process (one building a cache, say), telling on_wait once.
TEST(FileLock, AcquireWaitsForTheHolderAndSaysSoOnce) {
  const fs::path f = temp_file("acquire");
  int waits = 0;
  EXPECT_TRUE(proc::FileLock::acquire(f, [&] { ++waits; }).held());
  EXPECT_EQ(waits, 0) << "a free lock is taken at once";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto held = proc::FileLock::try_acquire(f);
    const char c = held ? '1' : '0';
    (void)!::write(ready[1], &c, 1);
    ::usleep(300000);
    ::_exit(0);  // releases the lock
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, '1');
  const proc::FileLock got = proc::FileLock::acquire(f, [&] { ++waits; });
  EXPECT_TRUE(got.held());
  EXPECT_EQ(waits, 1);
  EXPECT_TRUE(WIFEXITED(wait_status(child)));
  ::close(ready[0]);
  ::close(ready[1]);
  EXPECT_THROW(proc::FileLock::acquire(f / "no" / "such"), std::runtime_error);
  fs::remove(f);
}

TEST(Spawn, RunsTheProgramWithItsArgumentsEnvironmentAndOutput) {
  const fs::path out = temp_file("out");
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  proc::ChildSpec c;
  c.exe = "/bin/sh";
  c.argv = {"sh", "-c", "echo \"$1 $IJEPA_PROC_TEST\"", "sh", "hello"};
  c.env = std::vector<std::string>{"IJEPA_PROC_TEST=world"};
  c.stdout_fd = fd;
  const pid_t pid = proc::spawn(c);
  ::close(fd);
  const int ws = wait_status(pid);
  ASSERT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "hello world");
  fs::remove(out);
}

TEST(Spawn, AProgramThatCannotStartExitsWith127) {
  proc::ChildSpec c;
  c.exe = "/nonexistent/ijepa";
  c.argv = {"ijepa"};
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  c.stderr_fd = null_fd;
  const int ws = wait_status(proc::spawn(c));
  ::close(null_fd);
  ASSERT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 127);
}

TEST(ProcessAlive, SeesItselfAndNotAReapedChild) {
  EXPECT_TRUE(proc::process_alive(::getpid()));
  proc::ChildSpec c;
  c.exe = "/bin/true";
  c.argv = {"true"};
  const pid_t pid = proc::spawn(c);
  wait_status(pid);
  EXPECT_FALSE(proc::process_alive(pid, "true"));
  EXPECT_FALSE(proc::process_alive(-1));
}

TEST(DescribeWaitStatus, ExitCodesAndSignalsInWords) {
  EXPECT_EQ(proc::describe_wait_status(forked_child_status(0, 0)), "exit 0");
  EXPECT_EQ(proc::describe_wait_status(forked_child_status(3, 0)), "exit 3");
  EXPECT_EQ(proc::describe_wait_status(forked_child_status(0, SIGTERM)), "killed by SIGTERM (Terminated)");
  EXPECT_EQ(proc::describe_wait_status(forked_child_status(0, SIGKILL)), "killed by SIGKILL (Killed)");
}
