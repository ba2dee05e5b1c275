#include "cli/args.hpp"

#include <algorithm>
#include <filesystem>

namespace ijepa::host::cli {

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;  // a typo, not another word
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d || (c.rfind(word, 0) == 0 && best.empty())) {
      best = c;
      best_d = std::min(best_d, d);
    }
  }
  return best;
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
}

}  // namespace ijepa::host::cli
