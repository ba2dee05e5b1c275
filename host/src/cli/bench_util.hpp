#pragma once
// Small helpers shared by the `ijepa bench` commands: number formatting, option checks, running the Python baselines.
#include <cstdint>
#include <string>
#include <utility>

#include "cli/args.hpp"

namespace ijepa::host::cli {

// fmt(v, prec) -> v with `prec` significant digits.
std::string fmt(double v, int prec = 4);
// int_at_least(args, name, fallback, min) -> the integer option, or a UsageError naming it when below min.
std::int64_t int_at_least(const Args& args, const std::string& name, long long fallback, long long min_value);
// shell_quote(s) -> s in single quotes, safe for /bin/sh.
std::string shell_quote(const std::string& s);
// run_capture(cmd) -> (exit status, stdout and stderr together) of a shell command.
std::pair<int, std::string> run_capture(const std::string& cmd);
// last_line(s) -> the last non-empty line of s.
std::string last_line(const std::string& s);

}  // namespace ijepa::host::cli
