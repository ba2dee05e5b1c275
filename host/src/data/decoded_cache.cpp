#include "ijepa/host/data/decoded_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <mutex>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/io/sha256.hpp"
#include "ijepa/host/proc/process.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

constexpr char kMagic[8] = {'I', 'J', 'E', 'P', 'A', 'U', '8', '\0'};
constexpr std::uint64_t kAlign = 64;

std::uint64_t aligned(std::uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

struct Layout {
  std::int64_t n = 0, h = 0, w = 0, c = 0;
  std::uint64_t labels = 0, readable = 0, pixels = 0, end = 0;  // byte offsets
  void place(std::uint64_t header_end) {
    labels = header_end;
    readable = labels + 8 * static_cast<std::uint64_t>(n);
    pixels = aligned(readable + static_cast<std::uint64_t>(n));
    end = pixels + static_cast<std::uint64_t>(n * h * w * c);
  }
};

class Mapped {
 public:
  explicit Mapped(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw DataError(p.string() + ": cannot open the decoded cache (" + std::strerror(errno) + ")");
    struct stat st {};
    ::fstat(fd, &st);
    size_ = static_cast<std::size_t>(st.st_size);
    data_ = size_ > 0 ? ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (data_ == MAP_FAILED) throw DataError(p.string() + ": cannot map the decoded cache");
  }
  ~Mapped() { ::munmap(data_, size_); }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  const unsigned char* bytes() const { return static_cast<const unsigned char*>(data_); }
  std::size_t size() const { return size_; }

 private:
  void* data_ = MAP_FAILED;
  std::size_t size_ = 0;
};

class DecodedCache final : public Dataset {
 public:
  DecodedCache(const fs::path& file, OpenSkips skips) : file_(file), map_(file), skips_(std::move(skips)) {
    const unsigned char* b = map_.bytes();
    const std::string bad = file.string() + ": not a decoded cache of this version (delete it to rebuild)";
    if (map_.size() < 16 || std::memcmp(b, kMagic, 8) != 0) throw DataError(bad);
    std::uint64_t hlen = 0;
    std::memcpy(&hlen, b + 8, 8);
    if (hlen > map_.size() - 16) throw DataError(bad);
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(b + 16), hlen));
      if (h.at("format") != "ijepa-decoded" || h.at("version") != 1) throw DataError(bad);
      l_.n = h.at("n");
      l_.h = h.at("h");
      l_.w = h.at("w");
      l_.c = h.at("c");
      source_ = h.at("source");
      num_classes_ = h.at("num_classes");
      names_ = h.at("class_names").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
      throw DataError(bad);
    }
    l_.place(aligned(16 + hlen));
    if (l_.end != map_.size()) throw DataError(file.string() + ": decoded cache is truncated (delete it to rebuild)");
  }
  std::int64_t size() const override { return l_.n; }
  std::int64_t num_classes() const override { return num_classes_; }
  std::string describe() const override { return source_ + " (decoded cache " + file_.string() + ")"; }
  std::vector<std::string> class_names() const override { return names_; }
  OpenSkips open_skips() const override { return skips_; }
  Image get(std::int64_t i) const override {
    if (i < 0 || i >= l_.n) throw DataError(describe() + ": index " + std::to_string(i) + " out of range");
    const unsigned char* b = map_.bytes();
    if (b[l_.readable + static_cast<std::uint64_t>(i)] == 0) {
      throw DataError(source_ + ": image " + std::to_string(i) + " could not be read when the cache was built");
    }
    Image img;
    std::memcpy(&img.label, b + l_.labels + 8 * static_cast<std::uint64_t>(i), 8);
    const std::uint64_t bytes = static_cast<std::uint64_t>(l_.h * l_.w * l_.c);
    img.pixels = at::empty({l_.h, l_.w, l_.c}, at::kByte);
    std::memcpy(img.pixels.data_ptr<std::uint8_t>(), b + l_.pixels + bytes * static_cast<std::uint64_t>(i), bytes);
    return img;
  }

 private:
  fs::path file_;
  Mapped map_;
  OpenSkips skips_;
  Layout l_;
  std::string source_;
  std::int64_t num_classes_ = 0;
  std::vector<std::string> names_;
};

// Decodes every image of source into `tmp` (chunks decoded in parallel, written in order).
void build(const Dataset& source, const fs::path& tmp) {
  const std::int64_t n = source.size();
  if (n <= 0) throw DataError(source.describe() + ": no images to cache");
  Layout l;
  l.n = n;
  // The size every image must have: that of the first readable one.
  std::int64_t first = 0;
  for (; first < n; ++first) {
    try {
      const Image im = source.get(first);
      l.h = im.pixels.size(0);
      l.w = im.pixels.size(1);
      l.c = im.pixels.size(2);
      break;
    } catch (const DataError&) {
    }
  }
  if (first == n) throw DataError(source.describe() + ": none of its images can be read");
  const nlohmann::json header = {{"format", "ijepa-decoded"}, {"version", 1},         {"n", n},
                                 {"h", l.h},                  {"w", l.w},             {"c", l.c},
                                 {"source", source.describe()}, {"num_classes", source.num_classes()},
                                 {"class_names", source.class_names()}};
  const std::string hs = header.dump();
  l.place(aligned(16 + hs.size()));
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw DataError(tmp.string() + ": cannot write the decoded cache");
  std::string head(l.labels, '\0');
  std::memcpy(head.data(), kMagic, 8);
  const std::uint64_t hlen = hs.size();
  std::memcpy(head.data() + 8, &hlen, 8);
  std::memcpy(head.data() + 16, hs.data(), hs.size());
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n), -1);
  std::vector<std::uint8_t> readable(static_cast<std::size_t>(n), 0);
  const std::int64_t img_bytes = l.h * l.w * l.c;
  std::vector<std::uint8_t> pixels;
  // Pixels go after labels and flags: decode in chunks, keep them in a second temporary file, then append.
  const fs::path px = tmp.string() + ".px";
  std::ofstream pout(px, std::ios::binary | std::ios::trunc);
  std::string mismatch;
  std::mutex mu;
  constexpr std::int64_t kChunk = 4096;
  for (std::int64_t s = 0; s < n; s += kChunk) {
    const std::int64_t e = std::min(n, s + kChunk);
    pixels.assign(static_cast<std::size_t>((e - s) * img_bytes), 0);
    at::parallel_for(s, e, 1, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        Image im;
        try {
          im = source.get(i);
        } catch (const DataError&) {
          continue;  // recorded as unreadable
        }
        if (im.pixels.size(0) != l.h || im.pixels.size(1) != l.w || im.pixels.size(2) != l.c) {
          std::lock_guard<std::mutex> g(mu);
          if (mismatch.empty()) {
            mismatch = source.describe() + ": image " + std::to_string(i) + " is " + std::to_string(im.pixels.size(1)) +
                       "x" + std::to_string(im.pixels.size(0)) + "x" + std::to_string(im.pixels.size(2)) +
                       ", image " + std::to_string(first) + " " + std::to_string(l.w) + "x" + std::to_string(l.h) +
                       "x" + std::to_string(l.c) + ": data.cache_dir needs images of one size";
          }
          continue;
        }
        const at::Tensor c = im.pixels.contiguous();
        std::memcpy(pixels.data() + (i - s) * img_bytes, c.data_ptr<std::uint8_t>(), static_cast<std::size_t>(img_bytes));
        labels[static_cast<std::size_t>(i)] = im.label;
        readable[static_cast<std::size_t>(i)] = 1;
      }
    });
    if (!mismatch.empty()) throw DataError(mismatch);
    pout.write(reinterpret_cast<const char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  }
  pout.close();
  out.write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size() * 8));
  out.write(reinterpret_cast<const char*>(readable.data()), static_cast<std::streamsize>(readable.size()));
  out.write(std::string(l.pixels - l.readable - static_cast<std::uint64_t>(n), '\0').data(),
            static_cast<std::streamsize>(l.pixels - l.readable - static_cast<std::uint64_t>(n)));
  std::ifstream pin(px, std::ios::binary);
  out << pin.rdbuf();
  pin.close();
  std::error_code ec;
  fs::remove(px, ec);
  out.flush();
  if (!out || static_cast<std::uint64_t>(out.tellp()) != l.end) {
    throw DataError(tmp.string() + ": writing the decoded cache failed (disk full?)");
  }
}

}  // namespace

fs::path decoded_cache_file(const Dataset& source, const fs::path& dir) {
  return dir / ("decoded-" + sha256_hex(source.describe()).substr(0, 16) + ".u8");
}

std::shared_ptr<Dataset> open_decoded_cache(const std::shared_ptr<Dataset>& source, const fs::path& dir) {
  const fs::path file = decoded_cache_file(*source, dir);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    fs::create_directories(dir, ec);
    const proc::FileLock lock = lock_data_cache(file.string() + ".lock", "decoding into " + file.string());
    if (!fs::exists(file, ec)) {  // not built by the process we waited for
      const fs::path tmp = file.string() + ".tmp-" + std::to_string(::getpid());
      try {
        build(*source, tmp);
        fs::rename(tmp, file);
      } catch (...) {
        fs::remove(tmp, ec);
        fs::remove(tmp.string() + ".px", ec);
        throw;
      }
    }
  }
  return std::make_shared<DecodedCache>(file, source->open_skips());
}

}  // namespace ijepa::host
