#pragma once
// Small helpers shared by the `ijepa bench` commands: number formatting, option checks, running the Python baselines.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

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
// run_logged(argv, log) -> the waitpid status of argv[0] (a path) run with argv, stdout and stderr into `log` (no
// shell: a crash shows as the signal itself). std::runtime_error when the log cannot be opened or the fork fails.
int run_logged(const std::vector<std::string>& argv, const std::filesystem::path& log);
// read_log(path) -> the file's text ("" if it cannot be read).
std::string read_log(const std::filesystem::path& path);
// last_line(s) -> the last non-empty line of s.
std::string last_line(const std::string& s);

}  // namespace ijepa::host::cli
