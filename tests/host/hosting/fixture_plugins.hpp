#pragma once
// Helpers for tests that load the fixture plugins of tests/fixtures/plugins (real shared libraries) and run
// the `ijepa` binary: fixture paths, loader options, private temporary directories, running a command.
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "host/run/test_util.hpp"  // read_text
#include "ijepa/host/hosting/plugin_loader.hpp"

namespace ijepa::test {

namespace fs = std::filesystem;

// Directory holding one fixture plugin: ${CMAKE_BINARY_DIR}/test_plugins/<name>.
inline fs::path fixture_dir(const std::string& name) {
  fs::path d = fs::path(IJEPA_TEST_PLUGIN_ROOT) / name;
  // The loader refuses group/other-writable plugin files and directories; a build made under a loose umask
  // (002) would trip that check, so tighten the fixture's permissions first (never loosen them).
  std::error_code ec;
  auto tighten = [&ec](const fs::path& p) {
    fs::permissions(p, fs::perms::group_write | fs::perms::others_write, fs::perm_options::remove, ec);
  };
  if (fs::is_directory(d, ec)) {
    tighten(d);
    for (const auto& e : fs::directory_iterator(d, ec)) tighten(e.path());
  }
  return d;
}

// The plugin file of a fixture built by ijepa_add_plugin(fixture_<name>): <dir>/ijepa_fixture_<name>.so.
inline fs::path fixture_file(const std::string& name) {
  return fixture_dir(name) / ("ijepa_fixture_" + name + ".so");
}

// Loader options that look only at `dirs` (no built-in directory, no IJEPA_PLUGIN_PATH).
inline host::LoaderOptions only_dirs(std::vector<fs::path> dirs, bool allow_insecure = false) {
  host::LoaderOptions o;
  o.extra_dirs = std::move(dirs);
  o.use_builtin = false;
  o.use_env = false;
  o.allow_insecure = allow_insecure;
  return o;
}

// The rejection recorded for `path` (compared after canonicalisation), or nullptr.
inline const host::Rejection* rejection_for(const host::PluginHost& h, const fs::path& path) {
  const std::string want = fs::weakly_canonical(path).string();
  for (const auto& r : h.rejected()) {
    if (r.path == want || r.path == path.string()) return &r;
  }
  return nullptr;
}

// A private temporary directory (0755, so an unprivileged user can traverse it), removed with everything in it.
// Before removal every entry is made owner-only again, so no test leaves a world-writable file behind even if
// the removal fails.
class TempDir {
 public:
  explicit TempDir(const fs::path& parent = fs::temp_directory_path()) {
    std::string tmpl = (parent / "ijepa-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + parent.string());
    path_ = tmpl;
    fs::permissions(path_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  }
  ~TempDir() {
    lock_down(path_);
    remove_tree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  // POSIX, not std::filesystem::remove_all: the torch wheel's libtorch.so exports a remove_all that crashes
  // (null weak symbol) if it wins over libstdc++'s; the top-level link order prevents that, this does not rely on it.
  static void remove_tree(const fs::path& p) {
    ::nftw(
        p.c_str(),
        [](const char* f, const struct stat*, int, struct FTW*) { return ::remove(f) == 0 ? 0 : 0; }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  static void lock_down(const fs::path& p) {
    std::error_code ec;
    const bool dir = fs::is_directory(fs::symlink_status(p, ec));
    fs::permissions(p, dir ? fs::perms::owner_all : fs::perms::owner_read | fs::perms::owner_write, ec);
    if (dir) {
      for (const auto& e : fs::directory_iterator(p, ec)) lock_down(e.path());
    }
  }
  fs::path path_;
};

// Copies a fixture plugin file into `dir` (owner rw, others r) and returns the new path.
inline fs::path copy_fixture(const fs::path& from, const fs::path& dir) {
  fs::create_directories(dir);
  fs::path to = dir / from.filename();
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  return to;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

struct CommandResult {
  int rc = -1;
  std::string out;
  std::string err;
};

// Runs a shell command line with stdout and stderr captured separately (through files in a temp dir).
inline CommandResult run_command(const std::string& cmdline) {
  TempDir tmp;
  const fs::path out = tmp / "stdout", err = tmp / "stderr";
  const std::string full = cmdline + " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string());
  const int status = std::system(full.c_str());
  CommandResult r;
  r.rc = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

// Runs the real `ijepa` binary with the given (already separate) arguments, without IJEPA_PLUGIN_PATH and
// with warnings (rejected plugins) on stderr.
inline CommandResult run_ijepa(const std::vector<std::string>& args) {
  std::string cmd = "env -u IJEPA_PLUGIN_PATH IJEPA_LOG_LEVEL=warn " + shell_quote(IJEPA_CLI_EXE);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_command(cmd);
}

}  // namespace ijepa::test
