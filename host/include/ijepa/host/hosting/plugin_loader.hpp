#pragma once
// Finds plugin files, checks them, opens them with Boost.DLL (RTLD_NOW | RTLD_LOCAL) and registers them.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

// A plugin file (or directory) that was refused, with a one-line reason.
struct Rejection {
  std::string path;
  std::string reason;
};

// A plugin that loaded and registered.
struct LoadedPlugin {
  std::string path;
  std::string plugin_id;
  std::string plugin_version;
  std::string sha256;  // of the file, for env.json
};

struct LoaderOptions {
  std::vector<std::filesystem::path> extra_dirs;  // --plugin-dir, in order
  bool use_builtin = true;                        // the build's or install's plugin directory
  bool use_env = true;                            // IJEPA_PLUGIN_PATH (colon-separated)
  bool allow_insecure = false;                    // accept files/directories writable by group or others
};

// Owns the registry and every library it opened. Libraries are never unloaded while the process runs.
class PluginHost {
 public:
  PluginHost();
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Discovers and loads every `ijepa_*.so` in the configured directories; never throws for a bad plugin.
  void load_all(const LoaderOptions& opts);
  // Loads one file; returns false (and records a Rejection) if refused. Unless allow_insecure, the file's resolved
  // real path is checked before it is opened: the file itself and (unless trusted_parents, the built-in directory
  // next to the executable) every directory above it up to the root (insecure_parent_reason).
  bool load_file(const std::filesystem::path& file, bool allow_insecure, bool trusted_parents = false);

  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }
  const std::vector<LoadedPlugin>& loaded() const { return loaded_; }
  const std::vector<Rejection>& rejected() const { return rejected_; }
  // Directories searched by the last load_all, in order.
  const std::vector<std::filesystem::path>& searched() const { return searched_; }
  // Files in a plugin directory that look like plugins but are not loaded (a shared library not named ijepa_*.so),
  // each with a one-line hint; not rejections.
  const std::vector<Rejection>& hints() const { return hints_; }

 private:
  struct PluginServices;
  void scan_dir(const std::filesystem::path& dir, bool explicit_dir, bool allow_insecure);

  Registry registry_;
  std::vector<LoadedPlugin> loaded_;
  std::vector<Rejection> rejected_;
  std::vector<Rejection> hints_;
  std::vector<std::filesystem::path> searched_;
  std::vector<std::unique_ptr<PluginServices>> services_;  // one per plugin, alive for the process
};

// The built-in plugin directory: <exe>/../lib/ijepa/plugins (the same in the build tree and an install).
std::filesystem::path builtin_plugin_dir();
// Why `p` is unsafe to load (writable by group/others, or owned by another user), or "" if fine.
std::string insecure_reason(const std::filesystem::path& p);
// Why the directories above the real path `real` are unsafe ("whose directory D is writable by other users"), or ""
// when each is owned by root or this user and writable by nobody else (a sticky directory such as /tmp is fine:
// others cannot rename or replace what they do not own there).
std::string insecure_parent_reason(const std::filesystem::path& real);
// Hex SHA-256 of a file ("" if unreadable).
std::string sha256_file(const std::filesystem::path& p);

}  // namespace ijepa::host
