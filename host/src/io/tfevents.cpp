#include "ijepa/host/io/tfevents.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ijepa::host::io {

namespace {

// ": <why>" from errno after a stream operation failed (the stream itself keeps no reason), or "" when none is set.
std::string errno_text() { return errno != 0 ? std::string(": ") + std::strerror(errno) : std::string(); }

std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) ? (c >> 1) ^ 0x82F63B78U : c >> 1;
    t[i] = c;
  }
  return t;
}

// ---- protocol-buffer wire format: varints, 64-/32-bit fixed, length-delimited fields ----
void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, unsigned field, unsigned wire_type) { varint(out, (field << 3) | wire_type); }
void fixed64(std::string& out, unsigned field, double v) {
  key(out, field, 1);
  std::uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
void fixed32(std::string& out, unsigned field, float v) {
  key(out, field, 5);
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}
void bytes_field(std::string& out, unsigned field, const std::string& b) {
  key(out, field, 2);
  varint(out, b.size());
  out += b;
}
void int_field(std::string& out, unsigned field, std::int64_t v) {
  key(out, field, 0);
  varint(out, static_cast<std::uint64_t>(v));  // int64: two's complement, 10 bytes when negative
}

std::string event_head(double wall_time, std::int64_t step) {
  std::string e;
  fixed64(e, 1, wall_time);
  if (step != 0) int_field(e, 2, step);
  return e;
}

}  // namespace

std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc) {
  static const std::array<std::uint32_t, 256> table = make_table();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFFU] ^ (crc >> 8);
  return ~crc;
}

std::uint32_t masked_crc32c(const void* data, std::size_t n) {
  const std::uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8U;
}

std::string tfrecord(const std::string& data) {
  std::string r;
  const std::uint64_t len = data.size();
  char head[8];
  for (int i = 0; i < 8; ++i) head[i] = static_cast<char>((len >> (8 * i)) & 0xFF);
  auto put32 = [&r](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) r.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  r.append(head, 8);
  put32(masked_crc32c(head, 8));
  r += data;
  put32(masked_crc32c(data.data(), data.size()));
  return r;
}

std::string event_file_version(double wall_time, std::int64_t step) {
  std::string e = event_head(wall_time, step);
  bytes_field(e, 3, "brain.Event:2");
  return e;
}

std::string event_scalars(double wall_time, std::int64_t step, const Scalars& values) {
  std::string summary;
  for (const auto& [tag, v] : values) {
    std::string value;
    bytes_field(value, 1, tag);
    fixed32(value, 2, static_cast<float>(v));
    bytes_field(summary, 1, value);
  }
  std::string e = event_head(wall_time, step);
  bytes_field(e, 5, summary);
  return e;
}

std::string event_session_start(double wall_time, std::int64_t step) {
  std::string log;
  int_field(log, 1, 1);  // SessionLog.START
  std::string e = event_head(wall_time, step);
  bytes_field(e, 7, log);
  return e;
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventWriter::EventWriter(const std::filesystem::path& dir, std::int64_t purge_step) {
  static std::atomic<int> counter{0};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const double now = unix_seconds();
  // TensorBoard reads a directory's event files in name order: the new file must sort after every file there (a
  // resume within the same second, by a process with a smaller pid, would otherwise be read first).
  std::string last;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("events.out.tfevents.", 0) == 0 && f > last) last = f;
  }
  const std::string suffix = std::string(".") + host + "." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  for (auto secs = static_cast<long long>(now);; ++secs) {
    const std::string name = "events.out.tfevents." + std::to_string(secs) + suffix;
    if (name > last) {
      path_ = dir / name;
      break;
    }
  }
  errno = 0;
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw std::runtime_error(path_.string() + ": cannot create the TensorBoard event file" + errno_text());
  write(event_file_version(now, purge_step > 0 ? purge_step : 0));
  if (purge_step >= 0) write(event_session_start(now, purge_step));
  flush();
}

void EventWriter::write(const std::string& event) {
  const std::string r = tfrecord(event);
  errno = 0;
  out_.write(r.data(), static_cast<std::streamsize>(r.size()));
  if (!out_) throw std::runtime_error(path_.string() + ": write failed" + errno_text());
}

void EventWriter::scalars(std::int64_t step, const Scalars& values, double wall_time) {
  if (values.empty()) return;
  write(event_scalars(wall_time >= 0 ? wall_time : unix_seconds(), step, values));
  flush();
}

void EventWriter::flush() {
  errno = 0;
  out_.flush();
  if (!out_) throw std::runtime_error(path_.string() + ": write failed" + errno_text());
}

}  // namespace ijepa::host::io
