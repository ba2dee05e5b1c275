#include "ijepa/host/proc/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace ijepa::host::proc {

namespace {

volatile std::sig_atomic_t g_last = 0;
volatile std::sig_atomic_t g_count = 0;
volatile std::sig_atomic_t g_second_ends = 0;

extern "C" void on_stop_signal(int sig) {
  g_last = sig;
  g_count = g_count + 1;
  stop_requested().store(true);
  if (g_second_ends != 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);  // a second Ctrl-C ends the process at once
  }
}

struct sigaction g_old_int {}, g_old_term {};

}  // namespace

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

StopSignals::StopSignals(Options opts) {
  g_last = 0;
  g_count = 0;
  g_second_ends = opts.second_ends ? 1 : 0;
  stop_requested().store(false);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = opts.restart_syscalls ? SA_RESTART : 0;
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

int StopSignals::last() { return g_last; }
int StopSignals::count() { return g_count; }
int StopSignals::take() {
  const int s = g_last;
  g_last = 0;
  return s;
}

std::string signal_name(int sig, bool with_description) {
  const char* abbrev = ::sigabbrev_np(sig);
  std::string out = abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
  if (with_description) {
    if (const char* desc = ::strsignal(sig); desc != nullptr) out += std::string(" (") + desc + ")";
  }
  return out;
}

std::string describe_wait_status(int wstatus) {
  if (WIFEXITED(wstatus)) return "exit " + std::to_string(WEXITSTATUS(wstatus));
  if (WIFSIGNALED(wstatus)) {
    return "killed by " + signal_name(WTERMSIG(wstatus)) + (WCOREDUMP(wstatus) ? ", core dumped" : "");
  }
  if (WIFSTOPPED(wstatus)) return "stopped by " + signal_name(WSTOPSIG(wstatus));
  return "wait status " + std::to_string(wstatus);
}

std::optional<FileLock> FileLock::try_acquire(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(file.string() + ": cannot open: " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  return FileLock(fd);
}

FileLock FileLock::acquire(const fs::path& file, const std::function<void()>& on_wait) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(file.string() + ": cannot open: " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return FileLock(fd);
  if (on_wait) on_wait();
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      const int e = errno;
      ::close(fd);
      throw std::runtime_error(file.string() + ": cannot lock: " + std::strerror(e));
    }
  }
  return FileLock(fd);
}

FileLock& FileLock::operator=(FileLock&& o) noexcept {
  std::swap(fd_, o.fd_);
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<long> lock_holder(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return std::nullopt;
  std::ifstream in("/proc/locks");
  std::string line;
  // "1: FLOCK  ADVISORY  WRITE 10901 fe:00:5399175 0 EOF"; waiters read "1: -> FLOCK ...".
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string id, type, mode, rw, pid, dev;
    ss >> id >> type;
    if (type == "->") continue;
    ss >> mode >> rw >> pid >> dev;
    if (type != "FLOCK") continue;
    unsigned maj = 0, min = 0;
    unsigned long long ino = 0;
    if (std::sscanf(dev.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3) continue;
    if (maj == major(st.st_dev) && min == minor(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino)) {
      try {
        const long p = std::stol(pid);
        if (p > 0) return p;
      } catch (const std::exception&) {
      }
    }
  }
  return std::nullopt;
}

bool process_alive(long pid, const std::string& needle) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  const fs::path proc = fs::path("/proc") / std::to_string(pid);
  std::ifstream stat(proc / "stat");
  std::string text;
  if (!stat || !std::getline(stat, text)) return true;  // no /proc: kill() said it exists
  // "pid (comm) S ...": the state follows the last ')'.
  const auto rp = text.rfind(')');
  if (rp != std::string::npos && rp + 2 < text.size() && (text[rp + 2] == 'Z' || text[rp + 2] == 'X')) return false;
  if (needle.empty()) return true;
  std::ifstream cl(proc / "cmdline", std::ios::binary);
  std::stringstream ss;
  ss << cl.rdbuf();
  std::string cmd = ss.str();
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  return cmd.find(needle) != std::string::npos;
}

pid_t spawn(const ChildSpec& spec) {
  // Everything the child needs is prepared before fork: after it, async-signal-safe calls only.
  std::vector<std::string> args = spec.argv, env = spec.env.value_or(std::vector<std::string>{});
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string msg = spec.exec_failure + "\n";
  const pid_t parent = ::getpid();
  // SIGINT/SIGTERM stay blocked from before fork until the child has the default actions back: a signal in between
  // would run this process's handler in the child and be lost (the child would go on to train as if not told).
  sigset_t stop_set, old_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (spec.parent_death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal);
      if (::getppid() != parent) ::_exit(128 + spec.parent_death_signal);  // the parent died before prctl
    }
    if (spec.stdin_fd >= 0) ::dup2(spec.stdin_fd, STDIN_FILENO);
    if (spec.stdout_fd >= 0) ::dup2(spec.stdout_fd, STDOUT_FILENO);
    if (spec.stderr_fd >= 0) ::dup2(spec.stderr_fd, STDERR_FILENO);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &dfl, nullptr);
    ::sigaction(SIGTERM, &dfl, nullptr);
    ::sigprocmask(SIG_SETMASK, &old_set, nullptr);  // a signal held back since fork now takes its default action
    if (spec.env) {
      ::execve(spec.exe.c_str(), argv.data(), envp.data());
    } else {
      ::execv(spec.exe.c_str(), argv.data());
    }
    if (::write(STDERR_FILENO, msg.data(), msg.size()) < 0) { /* nothing left to report to */ }
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(fork_errno));
  return pid;
}

int run_logged(const std::vector<std::string>& argv, const fs::path& log) {
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(log.string() + ": cannot open: " + std::strerror(errno));
  ChildSpec spec;
  spec.exe = argv.at(0);
  spec.argv = argv;
  spec.stdout_fd = fd;
  spec.stderr_fd = fd;
  spec.exec_failure = "cannot start " + argv.at(0);
  pid_t pid = -1;
  try {
    pid = spawn(spec);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid failed: ") + std::strerror(errno));
  }
  return status;
}

}  // namespace ijepa::host::proc
