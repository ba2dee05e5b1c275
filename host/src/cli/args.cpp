#include "cli/args.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "ijepa/host/util/nearest.hpp"

namespace ijepa::host::cli {

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  return util::nearest(word, candidates);
}

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
           const std::set<std::string>& flags) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string value;
      bool has_inline = false;
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
      if (valued.count(a) != 0) {
        if (!has_inline) {
          if (i + 1 >= argv.size()) throw UsageError("option " + a + " needs a value");
          value = argv[++i];
        }
        values_[a].push_back(value);
      } else if (flags.count(a) != 0) {
        if (has_inline) throw UsageError("flag " + a + " takes no value");
        flags_.insert(a);
      } else {
        std::vector<std::string> known(valued.begin(), valued.end());
        known.insert(known.end(), flags.begin(), flags.end());
        const std::string guess = nearest(a, known);
        throw UsageError("unknown option " + a + (guess.empty() ? "" : " (did you mean " + guess + "?)") +
                         "; see --help");
      }
    } else {
      pos_.push_back(a);
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError("missing required option " + name);
  return *v;
}

long long Args::get_int(const std::string& name, long long fallback) const {
  auto v = get(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    long long x = std::stoll(*v, &used);
    if (used != v->size()) throw std::invalid_argument("trailing");
    return x;
  } catch (const std::exception&) {
    throw UsageError("option " + name + " expects an integer, got '" + *v + "'");
  }
}

void check_output_file(const std::string& option, const std::string& path, bool may_replace) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path p = fs::absolute(path, ec);
  if (fs::is_directory(p, ec)) throw UsageError(option + " " + path + ": is a directory (expected a file to write)");
  if (!fs::is_directory(p.parent_path(), ec)) {
    throw UsageError(option + " " + path + ": the folder " + p.parent_path().string() + " does not exist");
  }
  if (!may_replace && fs::exists(p, ec)) {
    throw UsageError(option + " " + path + ": exists; it is never overwritten (remove it or choose another path)");
  }
  check_writable_folder(option + " " + path, p.parent_path());
}

void check_writable_folder(const std::string& what, const std::filesystem::path& dir) {
  // access(W_OK) also says EROFS for root, whom permission bits do not stop.
  if (::access(dir.c_str(), W_OK) != 0) {
    throw UsageError(what + ": the folder " + dir.string() + " cannot be written: " + std::strerror(errno));
  }
}

}  // namespace ijepa::host::cli
