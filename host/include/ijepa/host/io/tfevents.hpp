#pragma once
// TensorBoard event files, written from the published format (no TensorFlow, no protobuf library):
//   a file is a sequence of TFRecords: uint64 length (little endian), uint32 masked CRC-32C of those 8 bytes,
//   the data, uint32 masked CRC-32C of the data; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8.
//   Each record's data is a protocol-buffer `Event` (tensorflow/core/util/event.proto):
//     double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; SessionLog session_log = 7;
//   Summary (summary.proto): repeated Value value = 1; Value: string tag = 1; float simple_value = 2.
//   SessionLog: SessionStatus status = 1 (START = 1).
// The first record of a file is {wall_time, file_version: "brain.Event:2"}, as every TensorBoard writer does.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace ijepa::host::io {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it; `crc` continues a running sum.
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);
// The masked form TFRecord stores.
std::uint32_t masked_crc32c(const void* data, std::size_t n);
// One TFRecord: framing around `data`.
std::string tfrecord(const std::string& data);

using Scalars = std::vector<std::pair<std::string, double>>;

// Protocol-buffer encodings of the three Event shapes written here.
std::string event_file_version(double wall_time, std::int64_t step);
std::string event_scalars(double wall_time, std::int64_t step, const Scalars& values);
std::string event_session_start(double wall_time, std::int64_t step);

// Appends events to a new file `events.out.tfevents.<unix seconds>.<host>.<pid>.<n>` in `dir` (created if
// missing). With purge_step >= 0 the file opens with a SessionLog START at that step, so TensorBoard drops what an
// earlier file recorded from that step on (a resumed run: the same convention as torch's SummaryWriter(purge_step)).
// Throws std::runtime_error naming the path when the file cannot be created or written.
class EventWriter {
 public:
  explicit EventWriter(const std::filesystem::path& dir, std::int64_t purge_step = -1);
  // One Event holding every value (non-finite values are written as they are; TensorBoard shows NaN/inf).
  void scalars(std::int64_t step, const Scalars& values, double wall_time = -1.0);
  void flush();  // after every scalars() call already; for callers that batch
  const std::filesystem::path& path() const { return path_; }

 private:
  void write(const std::string& event);
  std::filesystem::path path_;
  std::ofstream out_;
};

double unix_seconds();  // wall clock, seconds since the epoch (with fractions)

}  // namespace ijepa::host::io
