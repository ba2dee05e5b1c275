#pragma once
// Process plumbing shared by the trainer, the sweep runner and the distributed launcher: stop signals, exclusive
// file locks and child processes. POSIX only; nothing here knows about runs, sweeps or ranks.
#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ijepa::host::proc {

// Set by StopSignals' handler (and by tests that want a run to stop at its next step boundary).
std::atomic<bool>& stop_requested();

// While alive, SIGINT and SIGTERM are recorded instead of ending the process; the previous handlers come back on
// destruction. One instance at a time per process.
class StopSignals {
 public:
  struct Options {
    bool restart_syscalls = true;  // SA_RESTART: blocking reads continue (the trainer); false: sleeps and waitpid
                                   // return early so a supervisor reacts at once
    bool second_ends = false;      // the first signal restores the default action: a second one ends the process
  };
  StopSignals() : StopSignals(Options{}) {}
  explicit StopSignals(Options opts);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  static int last();   // the last signal received (0: none since installation or the last take())
  static int count();  // signals received since installation
  static int take();   // last(), then forget it (a supervisor forwards each signal once)
};

// "SIGINT (Interrupt)" (with_description) or "SIGINT"; "signal N" for an unnamed one.
std::string signal_name(int sig, bool with_description = true);
// A waitpid status in words: "exit 3", "killed by SIGSEGV (Segmentation fault)", "stopped by SIGSTOP (...)".
std::string describe_wait_status(int wstatus);

// An exclusive flock(2) on a file for the life of the object (movable; closing the descriptor releases it).
class FileLock {
 public:
  FileLock() = default;
  // try_acquire(file) -> the lock, or nullopt when another process holds it; std::runtime_error when the file
  // cannot be opened (created with mode 0644 if missing).
  static std::optional<FileLock> try_acquire(const std::filesystem::path& file);
  // acquire(file, on_wait): the lock, waiting for it when another process holds it (building the same cache, say;
  // on_wait, if given, runs once before the wait); std::runtime_error naming the file when it cannot be opened or
  // locked.
  static FileLock acquire(const std::filesystem::path& file, const std::function<void()>& on_wait = {});
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return fd_ >= 0; }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The pid holding a flock on `file` (from /proc/locks), if any.
std::optional<long> lock_holder(const std::filesystem::path& file);

// Is `pid` a live (non-zombie) process whose command line contains `needle` (empty: any)?
bool process_alive(long pid, const std::string& needle = "");

// A child to start: fork, then (async-signal-safe calls only) the given descriptors on stdin/stdout/stderr (-1:
// inherit), SIGINT and SIGTERM back to their default actions, and exec.
struct ChildSpec {
  std::string exe;                               // path of the program
  std::vector<std::string> argv;                 // argv[0] included
  std::optional<std::vector<std::string>> env;   // KEY=VALUE entries; nullopt: this process's environment
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  std::string exec_failure = "cannot start the program";  // written to the child's stderr if exec fails (exit 127)
  // Sent to the child when this thread ends (the parent killed outright: a trial is not left training unattended);
  // 0: none. Spawn from the thread that lives as long as the child should.
  int parent_death_signal = 0;
};
// spawn(spec) -> the child's pid; std::runtime_error naming errno when fork fails.
pid_t spawn(const ChildSpec& spec);
// run_logged(argv, log) -> the waitpid status of argv[0] (a path) run with argv, stdout and stderr into `log`, no
// shell between (a crash shows as the signal itself); std::runtime_error when the log cannot be opened or the fork
// or the wait fails.
int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log);

}  // namespace ijepa::host::proc
