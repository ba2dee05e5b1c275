// proc::install_crash_report: what a crashing `ijepa` writes before it dies.
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#include <gtest/gtest.h>

#include "ijepa/host/proc/crash_report.hpp"

using namespace ijepa::host;

namespace {

extern "C" void exit_42_on_signal(int) { ::_exit(42); }

}  // namespace

// A real fault: the report names the signal, the faulting address, the main thread, the stage, and lists frames;
// then the process dies of the same signal.
TEST(CrashReport, NamesTheSignalAddressThreadStageAndFrames) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (proc::install_crash_report("crash-test") != 5) std::_Exit(3);
        proc::set_crash_stage("test: writing to address 0x10");
        volatile std::uintptr_t address = 16;  // read at run time: the compiler sees no constant to warn about
        *reinterpret_cast<volatile int*>(address) = 1;
      },
      testing::KilledBySignal(SIGSEGV),
      "crash-test: fatal signal 11 SIGSEGV \\(Segmentation fault\\) at address 0x10, thread [0-9]+ \\(main\\); "
      "while: test: writing to address 0x10\nbacktrace \\(innermost first[^\n]*\n[^\n]*\\[0x[0-9a-f]+\\]");
}

// abort() (an uncaught exception ends the same way): no address, no stage when none was set.
TEST(CrashReport, AbortIsReportedWithoutAnAddress) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        proc::install_crash_report("crash-test");
        std::abort();
      },
      testing::KilledBySignal(SIGABRT), "crash-test: fatal signal 6 SIGABRT \\(Aborted\\), thread [0-9]+ \\(main\\)\n");
}

// A signal another process sent names the sender instead of an address.
TEST(CrashReport, ASentSignalNamesTheSender) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        proc::install_crash_report("crash-test");
        const pid_t self = ::getpid();
        const pid_t child = ::fork();
        if (child == 0) {
          ::kill(self, SIGBUS);
          ::_exit(0);
        }
        for (;;) ::pause();
      },
      testing::KilledBySignal(SIGBUS), "crash-test: fatal signal 7 SIGBUS \\(Bus error\\) sent by pid [0-9]+, thread");
}

// A handler somebody else installed first (a sanitizer's, say) stays; the other signals are taken.
TEST(CrashReport, LeavesAnInstalledHandlerAlone) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        struct sigaction sa {};
        sa.sa_handler = exit_42_on_signal;
        sigemptyset(&sa.sa_mask);
        ::sigaction(SIGSEGV, &sa, nullptr);
        if (proc::install_crash_report("crash-test") != 4) std::_Exit(3);
        ::raise(SIGSEGV);
        std::_Exit(4);
      },
      testing::ExitedWithCode(42), "");
}

TEST(CrashReport, StageIsSetAndReturnedInTurn) {
  const char* before = proc::set_crash_stage("first");
  EXPECT_STREQ(proc::crash_stage(), "first");
  EXPECT_STREQ(proc::set_crash_stage("second"), "first");
  EXPECT_STREQ(proc::crash_stage(), "second");
  proc::set_crash_stage(before);
}
