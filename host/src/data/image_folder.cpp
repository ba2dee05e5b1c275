// image_folder: the ImageNet layout ROOT/<class>/<image> (JPEG via TurboJPEG, PNG via stb_image), with an
// optional file list selecting a subset (the official 1% / 10% subset files list bare file names).
#include <turbojpeg.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <stb/stb_image.h>

#include "data/dataset.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// decode_image(bytes, origin) -> uint8 [H, W, 3]; grey, CMYK and palette images become RGB.
at::Tensor decode_image(const std::string& bytes, const std::string& origin) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() >= 3 && data[0] == 0xFF && data[1] == 0xD8) {
    tjhandle tj = tjInitDecompress();
    if (tj == nullptr) throw DataError(origin + ": TurboJPEG init failed");
    int w = 0, h = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(tj, data, static_cast<unsigned long>(bytes.size()), &w, &h, &subsamp, &cs) != 0) {
      const std::string why = tjGetErrorStr2(tj);
      tjDestroy(tj);
      throw DataError(origin + ": not a decodable JPEG (" + why + ")");
    }
    at::Tensor out = at::empty({h, w, 3}, at::kByte);
    int rc = 0;
    if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
      at::Tensor cmyk = at::empty({h, w, 4}, at::kByte);
      rc = tjDecompress2(tj, data, static_cast<unsigned long>(bytes.size()), cmyk.data_ptr<std::uint8_t>(), w, 0, h,
                         TJPF_CMYK, 0);
      // Adobe JPEGs store inverted CMYK: R = C * K / 255 (already inverted values).
      const auto* s = cmyk.data_ptr<std::uint8_t>();
      auto* d = out.data_ptr<std::uint8_t>();
      for (std::int64_t i = 0; i < static_cast<std::int64_t>(w) * h; ++i) {
        const int k = s[4 * i + 3];
        for (int c = 0; c < 3; ++c) d[3 * i + c] = static_cast<std::uint8_t>(s[4 * i + c] * k / 255);
      }
    } else {
      rc = tjDecompress2(tj, data, static_cast<unsigned long>(bytes.size()), out.data_ptr<std::uint8_t>(), w, 0, h,
                         TJPF_RGB, 0);
    }
    const bool fatal = rc != 0 && tjGetErrorCode(tj) == TJERR_FATAL;
    const std::string why = rc != 0 ? tjGetErrorStr2(tj) : "";
    tjDestroy(tj);
    if (fatal) throw DataError(origin + ": JPEG decode failed (" + why + ")");
    return out;
  }
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load_from_memory(data, static_cast<int>(bytes.size()), &w, &h, &n, 3);
  if (px == nullptr) {
    throw DataError(origin + ": not a decodable image (" + std::string(stbi_failure_reason()) + ")");
  }
  at::Tensor out = at::empty({h, w, 3}, at::kByte);
  std::memcpy(out.data_ptr(), px, static_cast<std::size_t>(w) * h * 3);
  stbi_image_free(px);
  return out;
}

namespace {

class ImageFolder final : public Dataset {
 public:
  ImageFolder(std::vector<std::pair<std::string, std::int64_t>> files, std::int64_t classes, std::string desc)
      : files_(std::move(files)), classes_(classes), desc_(std::move(desc)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  std::int64_t num_classes() const override { return classes_; }
  std::string describe() const override { return desc_; }
  Image get(std::int64_t i) const override {
    const auto& f = files_.at(static_cast<std::size_t>(i));
    return Image{decode_image(read_file(f.first), f.first), f.second};
  }

 private:
  std::vector<std::pair<std::string, std::int64_t>> files_;
  std::int64_t classes_;
  std::string desc_;
};

}  // namespace

std::shared_ptr<Dataset> open_image_folder(const std::string& root, const std::string& file_list) {
  std::error_code ec;
  if (root.empty()) throw DataError("data.root: image_folder needs a directory (ROOT/<class>/<image>)");
  if (!fs::is_directory(root, ec)) throw DataError("data.root: " + root + " is not a directory");
  std::set<std::string> wanted;
  if (!file_list.empty()) {
    std::ifstream in(file_list);
    if (!in) throw DataError("data.file_list: cannot read " + file_list);
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
      if (!line.empty()) wanted.insert(line);
    }
    if (wanted.empty()) throw DataError("data.file_list: " + file_list + " lists no files");
  }
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  }
  if (ec) throw DataError("data.root: cannot list " + root + ": " + ec.message());
  std::sort(classes.begin(), classes.end());
  std::vector<std::pair<std::string, std::int64_t>> files;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> names;
    const fs::path class_dir = fs::path(root) / classes[c];
    fs::directory_iterator class_it(class_dir, ec);
    if (ec) throw DataError("data.root: cannot list class directory " + class_dir.string() + ": " + ec.message());
    for (const auto& e : class_it) {
      if (!e.is_regular_file()) continue;
      const std::string ext = lower(e.path().extension().string());
      if (ext != ".jpg" && ext != ".jpeg" && ext != ".png") continue;
      const std::string name = e.path().filename().string();
      if (!wanted.empty() && wanted.count(name) == 0 && wanted.count(classes[c] + "/" + name) == 0) continue;
      names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) files.emplace_back((fs::path(root) / classes[c] / n).string(), static_cast<std::int64_t>(c));
  }
  if (files.empty()) throw DataError("data.root: no .jpg/.jpeg/.png images under " + root + "/<class>/");
  const std::string desc = "image_folder (" + std::to_string(files.size()) + " images, " +
                           std::to_string(classes.size()) + " classes) from " + root +
                           (file_list.empty() ? "" : " filtered by " + file_list);
  return std::make_shared<ImageFolder>(std::move(files), static_cast<std::int64_t>(classes.size()), desc);
}

}  // namespace ijepa::host
