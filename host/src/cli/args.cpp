#include "cli/args.hpp"

namespace ijepa::host::cli {

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
        throw UsageError("unknown option " + a);
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

}  // namespace ijepa::host::cli
