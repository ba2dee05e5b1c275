// The archive sources: a dataset tarball (CIFAR-10 as JPEGs, Imagenette) located on disk, extracted once with the
// system tar into the user cache (atomically, under an flock), and served as an image folder per split.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ijepa/host/build_config.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/io/files.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/proc/process.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace ijepa::host {
namespace {

const ArchiveSpec kArchives[] = {
    {"cifar10_jpeg", "cifar10-jpeg.tar.gz", "cifar10-jpeg", "test"},
    {"imagenette", "imagenette224.tar.gz", "imagenette224", "val"},
};

constexpr const char* kMarker = ".ijepa-extracted";

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// The directory holding train/ inside an extracted tree: dir itself or its only subdirectory.
fs::path split_parent(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir / "train", ec)) return dir;
  fs::path only;
  int n = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') continue;
    ++n;
    only = it->path();
  }
  if (n == 1 && fs::is_directory(only / "train", ec)) return only;
  return {};
}

std::string marker_text(const std::string& tarball) {
  std::error_code ec;
  const auto size = fs::file_size(tarball, ec);
  return "tarball " + fs::absolute(tarball).string() + "\nsize " + std::to_string(ec ? 0 : size) + "\n";
}

std::string size_line(const std::string& marker) {
  const auto at = marker.find("\nsize ");
  return at == std::string::npos ? std::string() : marker.substr(at);
}

// The extraction is current when its marker records a tarball of the same size (the path may differ: the same
// archive reached from another clone).
bool current(const fs::path& dir, const std::string& tarball) {
  if (!path_exists(dir / kMarker)) return false;
  return size_line(read_file_text(dir / kMarker)) == size_line(marker_text(tarball));
}

void run_tar(const std::string& tarball, const fs::path& into) {
  const std::string dir = into.string();
  const char* argv[] = {"tar", "-xzf", tarball.c_str(), "-C", dir.c_str(), "--no-same-owner", nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "tar", nullptr, nullptr, const_cast<char* const*>(argv), environ);
  if (rc != 0) throw DataError("cannot run tar to extract " + tarball + ": " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw DataError("waiting for tar (" + tarball + "): " + std::strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw DataError("tar -xzf " + tarball + " -C " + dir + " failed (" + proc::describe_wait_status(status) + ")");
  }
}


}  // namespace

proc::FileLock lock_data_cache(const fs::path& lock_file, const std::string& doing) {
  try {
    return proc::FileLock::acquire(lock_file, [&] {
      logging::info("waiting for another process " + doing + " (" + lock_file.string() + ")");
    });
  } catch (const std::runtime_error& e) {
    throw DataError(e.what());
  }
}

const ArchiveSpec* archive_spec(const std::string& source) {
  for (const auto& a : kArchives) {
    if (source == a.source) return &a;
  }
  return nullptr;
}

std::string dataset_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  fs::path base;
  if (xdg != nullptr && xdg[0] == '/') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    base = fs::path(home) / ".cache";
  } else {
    throw DataError("dataset cache: neither XDG_CACHE_HOME nor HOME is set");
  }
  return (base / "ijepa-workbench" / "datasets").string();
}

std::string locate_archive(const ArchiveSpec& spec, const std::string& root) {
  if (!root.empty()) {
    if (path_exists(root)) return root;
    throw DataError("data.root: " + root + " does not exist (expected " + spec.file + " or its extracted directory)");
  }
  std::string searched;
  if (const char* env = std::getenv("IJEPA_DATASETS_DIR"); env != nullptr && env[0] != '\0') {
    for (const fs::path& cand : {fs::path(env) / spec.file, fs::path(env) / spec.name}) {
      if (path_exists(cand)) return cand.string();
    }
    searched += "$IJEPA_DATASETS_DIR=" + std::string(env) + ", ";
  }
  std::error_code ec;
  const fs::path starts[] = {fs::current_path(ec), fs::path(IJEPA_SOURCE_DIR)};
  for (const fs::path& start : starts) {
    if (start.empty()) continue;
    for (fs::path p = fs::absolute(start, ec);; p = p.parent_path()) {
      const fs::path cand = p / "shared" / "datasets" / spec.file;
      if (path_exists(cand)) return cand.string();
      if (p == p.parent_path()) break;
    }
    searched += "shared/datasets/ above " + start.string() + ", ";
  }
  throw DataError("data.root: " + spec.file + " not found (searched " + searched +
                  "); set data.root to the tarball or its extracted directory, or IJEPA_DATASETS_DIR to its folder");
}

std::string extract_archive(const std::string& tarball, const std::string& name) {
  const fs::path cache = dataset_cache_dir();
  const fs::path final_dir = cache / name;
  if (current(final_dir, tarball)) return final_dir.string();
  std::error_code ec;
  fs::create_directories(cache, ec);
  if (ec) throw DataError("dataset cache: cannot create " + cache.string() + ": " + ec.message());
  const proc::FileLock lock = lock_data_cache(cache / (name + ".lock"), "extracting into the dataset cache");
  if (current(final_dir, tarball)) return final_dir.string();  // another process finished meanwhile

  // We hold the lock: leftovers of interrupted extractions are dead.
  const std::string tmp_prefix = "." + name + ".tmp.";
  for (fs::directory_iterator it(cache, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(tmp_prefix, 0) == 0) fs::remove_all(it->path(), ec);
  }
  const fs::path tmp = cache / (tmp_prefix + std::to_string(::getpid()));
  fs::create_directories(tmp, ec);
  if (ec) throw DataError("dataset cache: cannot create " + tmp.string() + ": " + ec.message());
  logging::info("extracting " + tarball + " into " + final_dir.string() + " (once)");
  const auto t0 = std::chrono::steady_clock::now();
  try {
    run_tar(tarball, tmp);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  const fs::path content = split_parent(tmp);
  if (content.empty()) {
    fs::remove_all(tmp, ec);
    throw DataError(tarball + ": the archive holds no train/ directory (expected [<top>/]train/<class>/<image>)");
  }
  {
    std::ofstream m(content / kMarker);
    m << marker_text(tarball);
    if (!m) throw DataError("dataset cache: cannot write " + (content / kMarker).string());
  }
  fs::path old;
  if (path_exists(final_dir)) {
    logging::warn("dataset cache: replacing " + final_dir.string() + " (incomplete or from another tarball)");
    old = cache / (tmp_prefix + "old." + std::to_string(::getpid()));
    fs::rename(final_dir, old, ec);
    if (ec) throw DataError("dataset cache: cannot move " + final_dir.string() + " aside: " + ec.message());
  }
  fs::rename(content, final_dir, ec);
  if (ec) throw DataError("dataset cache: cannot rename into " + final_dir.string() + ": " + ec.message());
  fs::remove_all(tmp, ec);
  if (!old.empty()) fs::remove_all(old, ec);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ostringstream msg;
  msg.precision(3);
  msg << "extracted " << tarball << " in " << secs << " s";
  logging::info(msg.str());
  return final_dir.string();
}

std::string archive_root(const ArchiveSpec& spec, const std::string& root) {
  const std::string loc = locate_archive(spec, root);
  std::error_code ec;
  if (fs::is_directory(loc, ec)) {
    const fs::path p = split_parent(loc);
    if (p.empty()) {
      throw DataError("data.root: " + loc + " holds no train/ directory (expected the extracted " + spec.file + ")");
    }
    return p.string();
  }
  return extract_archive(loc, spec.name);
}

}  // namespace ijepa::host
