#include "cli/bench_util.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

namespace ijepa::host::cli {

std::string fmt(double v, int prec) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

std::int64_t int_at_least(const Args& args, const std::string& name, long long fallback, long long min_value) {
  const long long v = args.get_int(name, fallback);
  if (v < min_value) throw UsageError(name + ": must be >= " + std::to_string(min_value) + ", got " + std::to_string(v));
  return v;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::pair<int, std::string> run_capture(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

}  // namespace ijepa::host::cli
