#include "ijepa/host/hosting/plugin_loader.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#ifndef BOOST_DLL_USE_STD_FS
#define BOOST_DLL_USE_STD_FS 1
#endif
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include "ijepa/host/io/sha256.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/hosting/abi_check.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

// Per-plugin HostServices: log lines are tagged with the plugin id, and the last error is kept.
struct PluginHost::PluginServices {
  IjepaHostServices table{};
  std::string plugin_id;
  std::string last_error;

  static void log(void* ctx, int level, const char* msg) {
    auto* self = static_cast<PluginServices*>(ctx);
    const std::string text = msg != nullptr ? msg : "";
    if (level >= IJEPA_LOG_ERROR) self->last_error = text;
    logging::write(level <= 0   ? logging::Level::debug
                   : level == 1 ? logging::Level::info
                   : level == 2 ? logging::Level::warn
                                : logging::Level::error,
                   "[" + self->plugin_id + "] " + text);
  }
};

namespace {

std::string first_line(std::string s) {
  auto nl = s.find('\n');
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

// Boost.DLL wraps dlerror() in "... (dlerror system message: X)"; keep X.
std::string dl_message(const std::exception& e) {
  std::string w = e.what();
  const std::string tag = "dlerror system message: ";
  auto p = w.find(tag);
  if (p != std::string::npos) {
    w = w.substr(p + tag.size());
    // Boost 1.74: "... (dlerror system message: X): <error_code message>"; drop from the closing ')' on.
    auto close = w.rfind(')');
    if (close != std::string::npos) w.resize(close);
  }
  return first_line(w);
}

bool looks_like_elf(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' && magic[3] == 'F';
}

// Plugin libraries and their HostServices tables live until the process exits, even after the PluginHost
// that opened them is gone: components may outlive it, and plugins may keep the HostServices pointer.
// Reachable from a leaked static, so no destructor (and no dlclose) ever runs for them.
void keep_for_process(std::shared_ptr<void> p) {
  static std::mutex* mu = new std::mutex;
  static auto* kept = new std::vector<std::shared_ptr<void>>;
  std::lock_guard<std::mutex> lock(*mu);
  kept->push_back(std::move(p));
}

}  // namespace

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() {
  for (auto& s : services_) keep_for_process(std::shared_ptr<PluginServices>(std::move(s)));
}

std::string insecure_reason(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return "";
  if ((st.st_mode & S_IWOTH) != 0) return "writable by other users";
  if ((st.st_mode & S_IWGRP) != 0) return "writable by its group";
  if (st.st_uid != ::geteuid() && st.st_uid != 0) return "owned by another user (uid " + std::to_string(st.st_uid) + ")";
  return "";
}

std::string insecure_parent_reason(const fs::path& real) {
  for (fs::path dir = real.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return "whose directory " + dir.string() + " cannot be examined";
    const bool sticky = (st.st_mode & S_ISVTX) != 0;
    if ((st.st_mode & S_IWOTH) != 0 && !sticky) return "whose directory " + dir.string() + " is writable by other users";
    if ((st.st_mode & S_IWGRP) != 0 && !sticky) return "whose directory " + dir.string() + " is writable by its group";
    if (st.st_uid != ::geteuid() && st.st_uid != 0) {
      return "whose directory " + dir.string() + " is owned by another user (uid " + std::to_string(st.st_uid) + ")";
    }
    if (dir == dir.root_path()) break;
  }
  return "";
}

std::string sha256_file(const fs::path& p) { return sha256_hex_file(p.string()); }

fs::path builtin_plugin_dir() {
  std::error_code ec;
  const fs::path exe_dir = boost::dll::program_location().parent_path();
  for (const fs::path& cand : {exe_dir / ".." / "lib" / "ijepa" / "plugins"}) {
    if (fs::is_directory(cand, ec)) return fs::weakly_canonical(cand, ec);
  }
  return {};
}

bool PluginHost::load_file(const fs::path& file, bool allow_insecure, bool trusted_parents) {
  const std::string path = file.string();
  auto reject = [&](const std::string& why) {
    rejected_.push_back({path, first_line(why)});
    logging::warn("plugin rejected: " + path + ": " + first_line(why));
    return false;
  };
  // Everything is checked on the resolved real path, and that path is what gets opened: a symlink cannot lead the
  // check one way and dlopen another.
  std::error_code ec;
  const fs::path real = fs::canonical(file, ec);
  if (ec) return reject("cannot resolve the plugin file: " + ec.message());
  if (!fs::is_regular_file(real, ec)) {
    return reject("not a regular file (only regular files are opened as plugins; a FIFO or device never is)");
  }
  if (!allow_insecure) {
    std::string why = insecure_reason(real);
    if (why.empty() && !trusted_parents) why = insecure_parent_reason(real);
    if (!why.empty()) return reject("refusing to load a plugin file " + why + " (pass --allow-insecure-plugins to override)");
  }
  if (::access(real.c_str(), R_OK) != 0) return reject(std::string("plugin file is not readable: ") + std::strerror(errno));
  if (!looks_like_elf(real)) return reject("not a shared library (no ELF header)");

  std::shared_ptr<boost::dll::shared_library> lib;
  try {
    lib = std::make_shared<boost::dll::shared_library>(
        real, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return reject("cannot load: " + dl_message(e));
  }
  keep_for_process(lib);  // never unloaded, whatever happens next
  const bool has_abi = lib->has("ijepa_plugin_abi"), has_register = lib->has("ijepa_plugin_register");
  if (!has_abi || !has_register) {
    return reject(!has_abi && !has_register
                      ? "missing entry points ijepa_plugin_abi / ijepa_plugin_register (not an ijepa plugin)"
                      : std::string("missing entry point ") + (has_abi ? "ijepa_plugin_register" : "ijepa_plugin_abi") +
                            " (IJEPA_PLUGIN_ABI and IJEPA_PLUGIN_REGISTER both belong in the plugin)");
  }
  const IjepaAbiInfo* abi = nullptr;
  try {
    abi = lib->get<const IjepaAbiInfo*()>("ijepa_plugin_abi")();
  } catch (const std::exception& e) {
    return reject(std::string("ijepa_plugin_abi failed: ") + e.what());
  }
  if (abi == nullptr) return reject("ijepa_plugin_abi returned null");
  if (auto why = explain_abi_mismatch(*abi, host_abi_info())) return reject("ABI mismatch: " + *why);

  const std::string id(abi->plugin_id);
  const std::string version(abi->plugin_version);
  for (const auto& l : loaded_) {
    if (l.plugin_id == id) {
      // Most often a copy of a plugin (the template) built before its id and types were renamed: without this,
      // the run trains the original with one warning among the info lines.
      return reject("duplicate plugin id " + id + " (already loaded from " + l.path + "); a copied plugin needs an "
                    "id (IJEPA_PLUGIN_ABI) and component types of its own: docs/plugin-guide.md, section 2");
    }
  }
  auto services = std::make_unique<PluginServices>();
  services->plugin_id = id;
  services->table = *logging::host_services();
  services->table.size = sizeof(IjepaHostServices);
  services->table.ctx = services.get();
  services->table.log = &PluginServices::log;

  using RegisterFn = int(sdk::Registrar*, const sdk::HostServices*);
  registry_.begin(Origin{id, version, path, lib, &services->table});
  int rc = 1;
  try {
    rc = lib->get<RegisterFn>("ijepa_plugin_register")(&registry_, &services->table);
  } catch (const std::exception& e) {  // the entry must be noexcept; be defensive anyway
    services->last_error = e.what();
    rc = 1;
  }
  if (rc != 0) {
    std::string why = !registry_.scope_error().empty() ? registry_.scope_error() : services->last_error;
    const std::string dup = "registration failed: ";
    if (why.rfind(dup, 0) == 0) why = why.substr(dup.size());
    registry_.abort();
    // Keep the services table alive: the plugin may have stored the pointer.
    services_.push_back(std::move(services));
    return reject("registration failed (" + id + "): " + (why.empty() ? "returned " + std::to_string(rc) : why));
  }
  registry_.commit();
  services_.push_back(std::move(services));
  loaded_.push_back({path, id, version, sha256_file(file)});
  logging::debug("plugin loaded: " + id + " " + version + " from " + path);
  return true;
}

void PluginHost::scan_dir(const fs::path& dir, bool explicit_dir, bool allow_insecure) {
  std::error_code ec;
  const std::size_t rejected_before = rejected_.size();
  struct WarnNew {
    const std::vector<Rejection>& list;
    std::size_t from;
    ~WarnNew() {
      for (std::size_t i = from; i < list.size(); ++i) {
        if (list[i].path.find(".so") == std::string::npos) logging::warn("plugin directory rejected: " + list[i].path + ": " + list[i].reason);
      }
    }
  } warn_new{rejected_, rejected_before};
  searched_.push_back(dir);
  if (!fs::exists(dir, ec)) {
    if (explicit_dir) rejected_.push_back({dir.string(), "plugin directory does not exist"});
    return;
  }
  if (!fs::is_directory(dir, ec)) {
    rejected_.push_back({dir.string(), "not a directory"});
    return;
  }
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    rejected_.push_back({dir.string(), "plugin directory is not readable"});
    return;
  }
  if (!allow_insecure) {
    const std::string why = insecure_reason(dir);
    if (!why.empty()) {
      rejected_.push_back({dir.string(), "refusing a plugin directory " + why +
                                             " (pass --allow-insecure-plugins to override)"});
      return;
    }
  }
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    rejected_.push_back({dir.string(), "cannot list plugin directory: " + ec.message()});
    return;
  }
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    const bool so = entry.path().extension() == ".so";
    if (name.rfind("ijepa_", 0) == 0 && so) {
      files.push_back(entry.path());
    } else if (so || name.find(".so.") != std::string::npos) {
      hints_.push_back({entry.path().string(), "not loaded: plugin files are named ijepa_<name>.so (ijepa_add_plugin "
                                               "names them so; CMake's default for a library is lib<name>.so)"});
    }
  }
  if (files.empty() && explicit_dir) {
    // `--plugin-dir src/` for `--plugin-dir src/build/`: said, so the "no such plugin" that follows is not a riddle.
    std::string where;
    for (const char* sub : {"build", "cmake-build-release", "cmake-build-debug"}) {
      std::error_code e2;
      for (const auto& entry : fs::directory_iterator(dir / sub, e2)) {
        const std::string n = entry.path().filename().string();
        if (n.rfind("ijepa_", 0) == 0 && entry.path().extension() == ".so") {
          where = "; " + (dir / sub).string() + " has one";
          break;
        }
      }
      if (!where.empty()) break;
    }
    const std::string why = "no plugin file (ijepa_<name>.so) in this directory" + where;
    hints_.push_back({dir.string(), why});
    logging::warn("plugin directory " + dir.string() + ": " + why);
  }
  std::sort(files.begin(), files.end());
  // The built-in directory is as trusted as the executable next to it: its parents are not examined.
  for (const auto& f : files) load_file(f, allow_insecure, /*trusted_parents=*/!explicit_dir);
}

void PluginHost::load_all(const LoaderOptions& opts) {
  std::vector<std::pair<fs::path, bool>> dirs;
  if (opts.use_builtin) {
    fs::path b = builtin_plugin_dir();
    if (!b.empty()) dirs.emplace_back(b, false);
  }
  if (opts.use_env) {
    if (const char* env = std::getenv("IJEPA_PLUGIN_PATH")) {
      std::stringstream ss(env);
      std::string item;
      while (std::getline(ss, item, ':')) {
        if (!item.empty()) dirs.emplace_back(item, true);
      }
    }
  }
  for (const auto& d : opts.extra_dirs) dirs.emplace_back(d, true);
  std::vector<fs::path> seen;
  for (const auto& [dir, explicit_dir] : dirs) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(dir, ec);
    if (ec) canon = dir;
    if (std::find(seen.begin(), seen.end(), canon) != seen.end()) continue;
    seen.push_back(canon);
    scan_dir(canon, explicit_dir, opts.allow_insecure);
  }
}

}  // namespace ijepa::host
