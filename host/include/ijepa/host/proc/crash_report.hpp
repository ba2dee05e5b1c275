#pragma once
// A last word from a crashing process: on SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT, `ijepa` writes one block to
// stderr — the signal, the faulting address, the thread, the stage the command had reached, and a backtrace — and
// then dies of the same signal (exit status and core dumps unchanged). Written for crashes seen only on machines we
// reach rarely (a GPU card): the report says where, so the next session does not have to reproduce it first.
#include <cstddef>
#include <string>

namespace ijepa::host::proc {

// Installs the report for every listed signal whose disposition is still the default (a sanitizer's or a debugger
// helper's handler is left alone). Idempotent; the first call fixes the program name. Returns how many signals it
// took. The main thread gets an alternate signal stack, so a stack overflow there is reported too.
int install_crash_report(const char* program);

// The stage a command has reached, printed by the report ("while: bench train: running the Python baseline").
// `stage` must outlive the process's use of it (a string literal); nullptr clears it. Returns the previous stage.
const char* set_crash_stage(const char* stage);
// The stage last set (nullptr: none).
const char* crash_stage();

}  // namespace ijepa::host::proc
