#include "ijepa/host/proc/crash_report.hpp"

#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>

namespace ijepa::host::proc {

namespace {

std::atomic<const char*> g_stage{nullptr};
const char* g_program = nullptr;
std::atomic<int> g_installed{-1};
volatile std::sig_atomic_t g_in_report = 0;
constexpr std::size_t kAltStackBytes = 64 * 1024;
alignas(16) char g_alt_stack[kAltStackBytes];

struct ReportedSignal {
  int sig;
  const char* text;  // fixed texts: strsignal is not async-signal-safe
};
constexpr ReportedSignal kFatalSignals[] = {{SIGSEGV, "SIGSEGV (Segmentation fault)"},
                                            {SIGBUS, "SIGBUS (Bus error)"},
                                            {SIGILL, "SIGILL (Illegal instruction)"},
                                            {SIGFPE, "SIGFPE (Floating point exception)"},
                                            {SIGABRT, "SIGABRT (Aborted)"}};

// Only write(2) and fixed buffers from here to the end of the handler.
void report_write(const char* s) {
  std::size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

void report_number(std::uintmax_t v, unsigned base) {
  char buf[32];
  char* p = buf + sizeof(buf);
  *--p = '\0';
  do {
    const unsigned d = static_cast<unsigned>(v % base);
    *--p = static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v != 0 && p > buf);
  if (base == 16) report_write("0x");
  report_write(p);
}

extern "C" void on_fatal_signal(int sig, siginfo_t* info, void* /*ucontext*/) {
  if (g_in_report == 0) {
    g_in_report = 1;
    const char* text = "a fatal signal";
    for (const ReportedSignal& f : kFatalSignals) {
      if (f.sig == sig) text = f.text;
    }
    report_write("\n");
    report_write(g_program != nullptr ? g_program : "process");
    report_write(": fatal signal ");
    report_number(static_cast<std::uintmax_t>(sig), 10);
    report_write(" ");
    report_write(text);
    if (info != nullptr && info->si_code <= 0) {  // sent (kill, tgkill, sigqueue): no faulting address
      if (info->si_pid != ::getpid()) {
        report_write(" sent by pid ");
        report_number(static_cast<std::uintmax_t>(info->si_pid), 10);
      }
    } else if (info != nullptr) {
      report_write(" at address ");
      report_number(reinterpret_cast<std::uintptr_t>(info->si_addr), 16);
    }
    report_write(", thread ");
    report_number(static_cast<std::uintmax_t>(::syscall(SYS_gettid)), 10);
    if (::getpid() == static_cast<pid_t>(::syscall(SYS_gettid))) report_write(" (main)");
    if (const char* stage = g_stage.load(std::memory_order_relaxed); stage != nullptr) {
      report_write("; while: ");
      report_write(stage);
    }
    report_write("\nbacktrace (innermost first; addresses resolve with addr2line -Cfe FILE +OFFSET):\n");
    void* frames[64];
    const int n = ::backtrace(frames, 64);
    ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  }
  // Die of the same signal: the default action back, then the signal again (a returning SIGSEGV handler would
  // re-run the faulting instruction; SIGABRT from abort() must be raised again).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

}  // namespace

int install_crash_report(const char* program) {
  if (const int n = g_installed.load(); n >= 0) return n;
  g_program = program;
  // backtrace() loads libgcc's unwinder on first use (malloc, dlopen): do that now, not inside the handler.
  void* warm[2];
  (void)::backtrace(warm, 2);
  stack_t ss{};
  ss.ss_sp = g_alt_stack;
  ss.ss_size = kAltStackBytes;
  ss.ss_flags = 0;
  const bool alt = ::sigaltstack(&ss, nullptr) == 0;
  int taken = 0;
  for (const ReportedSignal& f : kFatalSignals) {
    struct sigaction old {};
    if (::sigaction(f.sig, nullptr, &old) != 0) continue;
    const bool is_default = (old.sa_flags & SA_SIGINFO) == 0 && old.sa_handler == SIG_DFL;
    if (!is_default) continue;
    struct sigaction sa {};
    sa.sa_sigaction = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | (alt ? SA_ONSTACK : 0);
    if (::sigaction(f.sig, &sa, nullptr) == 0) ++taken;
  }
  g_installed.store(taken);
  return taken;
}

const char* set_crash_stage(const char* stage) { return g_stage.exchange(stage); }

const char* crash_stage() { return g_stage.load(); }

}  // namespace ijepa::host::proc
