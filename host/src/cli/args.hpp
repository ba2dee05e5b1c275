#pragma once
// A small argument parser for the `ijepa` subcommands: flags, repeatable options, positionals.
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace ijepa::host::cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// nearest(word, candidates) -> the candidate a typo of `word` most likely meant (edit distance), or "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// check_output_file(option, path, may_replace): a file the command will write, checked before any work: UsageError
// naming the option when PATH is a directory, its folder does not exist, or (unless may_replace) it exists already.
void check_output_file(const std::string& option, const std::string& path, bool may_replace);
// check_writable_folder(what, dir): UsageError "<what>: the folder DIR cannot be written: <why>" (read-only file
// system, permissions) unless this process may create files in dir.
void check_writable_folder(const std::string& what, const std::filesystem::path& dir);

class Args {
 public:
  // spec: options that take a value (e.g. {"--out", "--set"}) and boolean flags (e.g. {"--json"}).
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valued, const std::set<std::string>& flags);
  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;         // last occurrence
  std::vector<std::string> all(const std::string& name) const;           // every occurrence, in order
  std::string require(const std::string& name) const;                    // UsageError if absent
  long long get_int(const std::string& name, long long fallback) const;  // UsageError if not an integer
  const std::vector<std::string>& positionals() const { return pos_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::set<std::string> flags_;
  std::vector<std::string> pos_;
};

}  // namespace ijepa::host::cli
