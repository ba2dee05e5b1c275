#include "ijepa/host/io/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace ijepa::host {

std::string read_file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// Writes text to a hidden temporary file beside path and fsyncs it; returns the temporary's path.
fs::path write_temp_beside(const fs::path& path, const std::string& text) {
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const fs::path tmp = dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(path.string() + ": cannot write: " + std::strerror(errno));
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error(path.string() + ": write failed: " + why);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error(path.string() + ": fsync failed: " + why);
  }
  return tmp;
}

void sync_dir_of(const fs::path& path) {
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = write_temp_beside(path, text);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error(path.string() + ": rename failed: " + why);
  }
  sync_dir_of(path);
}

bool write_file_new(const fs::path& path, const std::string& text) {
  const fs::path tmp = write_temp_beside(path, text);
  // link() fails with EEXIST when any entry (a file, a folder, a dangling link) has the name: the name is claimed
  // in one step, so two processes racing for it cannot both get it.
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  if (rc != 0 && (err == EPERM || err == EOPNOTSUPP || err == ENOSYS)) {
    // A file system without hard links: claim the name with an exclusive create, then move the content onto it.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    err = errno;
    if (fd >= 0) {
      ::close(fd);
      rc = ::rename(tmp.c_str(), path.c_str());
      err = errno;
    }
    rc = fd < 0 ? -1 : rc;
  }
  ::unlink(tmp.c_str());
  if (rc != 0 && err == EEXIST) return false;
  if (rc != 0) throw std::runtime_error(path.string() + ": cannot create: " + std::strerror(err));
  sync_dir_of(path);
  return true;
}

std::size_t remove_temp_files(const fs::path& dir) {
  std::size_t removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    std::error_code rm;
    if (f.size() > 1 && f[0] == '.' && f.find(".tmp.") != std::string::npos && fs::remove(e.path(), rm)) ++removed;
  }
  return removed;
}

}  // namespace ijepa::host
