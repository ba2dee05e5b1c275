// Fashion-MNIST from the Debian package dataset-fashion-mnist: gzip-compressed IDX files.
#include <zlib.h>

#include <cstring>
#include <filesystem>

#include <ATen/ATen.h>

#include "ijepa/host/data/dataset.hpp"

namespace ijepa::host {
namespace {

std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw DataError(path + ": cannot open");
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  int err = 0;
  const char* msg = gzerror(f, &err);
  const bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string why = failed && msg != nullptr ? msg : "";
  gzclose(f);
  if (failed) throw DataError(path + ": corrupt gzip stream (" + why + ")");
  return out;
}

std::uint32_t be32(const std::string& s, std::size_t off) {
  return (std::uint32_t(static_cast<unsigned char>(s[off])) << 24) |
         (std::uint32_t(static_cast<unsigned char>(s[off + 1])) << 16) |
         (std::uint32_t(static_cast<unsigned char>(s[off + 2])) << 8) | std::uint32_t(static_cast<unsigned char>(s[off + 3]));
}

class FashionMnist final : public Dataset {
 public:
  FashionMnist(at::Tensor images, at::Tensor labels, std::string desc)
      : images_(std::move(images)), labels_(std::move(labels)), desc_(std::move(desc)) {}
  std::int64_t size() const override { return images_.size(0); }
  Image get(std::int64_t i) const override {
    return Image{images_[i].unsqueeze(-1), labels_.data_ptr<std::int64_t>()[i]};
  }
  std::int64_t num_classes() const override { return 10; }
  std::string describe() const override { return desc_; }

 private:
  at::Tensor images_;  // uint8 [N, 28, 28]
  at::Tensor labels_;  // int64 [N]
  std::string desc_;
};

}  // namespace

std::shared_ptr<Dataset> open_fashion_mnist(const std::string& root, const std::string& split) {
  namespace fs = std::filesystem;
  const std::string prefix = split == "train" ? "train" : "t10k";
  const fs::path img = fs::path(root) / (prefix + "-images-idx3-ubyte.gz");
  const fs::path lab = fs::path(root) / (prefix + "-labels-idx1-ubyte.gz");
  for (const auto& p : {img, lab}) {
    if (!fs::exists(p)) {
      throw DataError("data.root: Fashion-MNIST file " + p.string() +
                      " not found (install the Debian package dataset-fashion-mnist, or set data.root)");
    }
  }
  const std::string ib = read_gzip(img.string());
  const std::string lb = read_gzip(lab.string());
  if (ib.size() < 16 || be32(ib, 0) != 0x803) throw DataError(img.string() + ": not an IDX3 image file");
  if (lb.size() < 8 || be32(lb, 0) != 0x801) throw DataError(lab.string() + ": not an IDX1 label file");
  const std::int64_t n = be32(ib, 4), rows = be32(ib, 8), cols = be32(ib, 12);
  if (static_cast<std::int64_t>(be32(lb, 4)) != n) throw DataError(lab.string() + ": label count != image count");
  if (ib.size() != static_cast<std::size_t>(16 + n * rows * cols) || lb.size() != static_cast<std::size_t>(8 + n))
    throw DataError(img.string() + ": truncated IDX data");
  at::Tensor images = at::empty({n, rows, cols}, at::kByte);
  std::memcpy(images.data_ptr(), ib.data() + 16, static_cast<std::size_t>(n * rows * cols));
  at::Tensor labels = at::empty({n}, at::kByte);
  std::memcpy(labels.data_ptr(), lb.data() + 8, static_cast<std::size_t>(n));
  return std::make_shared<FashionMnist>(images, labels.to(at::kLong),
                                        "fashion_mnist " + split + " (" + std::to_string(n) + " images " +
                                            std::to_string(rows) + "x" + std::to_string(cols) +
                                            ", 10 classes) from " + root);
}

}  // namespace ijepa::host
