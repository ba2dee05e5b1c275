// image_folder: the ImageNet layout ROOT/<class>/<image> (JPEG via TurboJPEG, PNG via stb_image), with an
// optional file list selecting a subset (the official 1% / 10% subset files list bare file names). JPEGs are decoded
// with DCT scaling when the planned crop allows it.
#include <turbojpeg.h>

#include <atomic>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <stb/stb_image.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/log/logging.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {
namespace {

constexpr std::size_t kMaxExamples = 5;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::atomic<std::int64_t> g_max_pixels{kDefaultMaxImagePixels};

// Refuses an image whose header claims more pixels than the limit, before any pixel buffer is allocated.
void check_pixels(std::int64_t w, std::int64_t h, const std::string& origin) {
  const std::int64_t limit = g_max_pixels.load();
  if (w > 0 && h > 0 && w > limit / h) {
    // Whole megapixels when the limit is one or more (a small limit read "0 megapixels, above the limit of 0").
    const bool mega = limit >= 1'000'000;
    const auto amount = [mega](double px) {
      std::ostringstream os;
      os << std::fixed << std::setprecision(mega ? 1 : 0) << (mega ? px / 1e6 : px)
         << (mega ? " megapixels" : " pixels");
      return os.str();
    };
    throw DataError(origin + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " (" +
                    amount(static_cast<double>(w) * static_cast<double>(h)) + "), above the limit of " +
                    amount(static_cast<double>(limit)) + " (data.max_pixels)");
  }
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (!ec && size > kMaxImageFileBytes) {  // checked before reading: a 3 GB (even sparse) file is never read
    throw DataError(path + ": image file too large (" + std::to_string(size >> 20) + " MiB; at most " +
                    std::to_string(kMaxImageFileBytes >> 20) + " MiB)");
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw DataError(path + ": cannot read (" + std::strerror(errno) + ")");
  std::string out;
  char buf[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw DataError(path + ": read error");
  return out;
}

struct Tj {
  tjhandle h = tjInitDecompress();
  Tj() {
    if (h == nullptr) throw DataError("TurboJPEG: tjInitDecompress failed");
  }
  ~Tj() { tjDestroy(h); }
  Tj(const Tj&) = delete;
  Tj& operator=(const Tj&) = delete;
};

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
}

struct JpegHeader {
  int width = 0, height = 0, colorspace = 0;
};

JpegHeader jpeg_header(Tj& tj, const std::string& bytes, const std::string& origin) {
  JpegHeader hd;
  int subsamp = 0;
  if (tjDecompressHeader3(tj.h, reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<unsigned long>(bytes.size()), &hd.width, &hd.height, &subsamp,
                          &hd.colorspace) != 0) {
    throw DataError(origin + ": not a decodable JPEG (" + std::string(tjGetErrorStr2(tj.h)) + ")");
  }
  if (hd.width < 1 || hd.height < 1) throw DataError(origin + ": JPEG with an empty frame");
  check_pixels(hd.width, hd.height, origin);
  return hd;
}

// Decodes at num/denom of the full size into uint8 [TJSCALED(h), TJSCALED(w), 3]. Fatal errors and truncation
// ("Premature end of JPEG file") throw; other libjpeg warnings (extraneous bytes, ...) are tolerated, as PIL does.
at::Tensor jpeg_decode(Tj& tj, const std::string& bytes, const JpegHeader& hd, tjscalingfactor sf,
                       const std::string& origin) {
  const int sw = TJSCALED(hd.width, sf), sh = TJSCALED(hd.height, sf);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto size = static_cast<unsigned long>(bytes.size());
  at::Tensor out = at::empty({sh, sw, 3}, at::kByte);
  int rc = 0;
  const bool cmyk = hd.colorspace == TJCS_CMYK || hd.colorspace == TJCS_YCCK;
  if (cmyk) {
    at::Tensor px = at::empty({sh, sw, 4}, at::kByte);
    rc = tjDecompress2(tj.h, data, size, px.data_ptr<std::uint8_t>(), sw, sw * 4, sh, TJPF_CMYK, 0);
    // Adobe JPEGs store inverted CMYK (as PIL reads them): R = C * K / 255 on the stored values.
    const auto* s = px.data_ptr<std::uint8_t>();
    auto* d = out.data_ptr<std::uint8_t>();
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(sw) * sh; ++i) {
      const int k = s[4 * i + 3];
      for (int c = 0; c < 3; ++c) d[3 * i + c] = static_cast<std::uint8_t>((s[4 * i + c] * k + 127) / 255);
    }
  } else {
    rc = tjDecompress2(tj.h, data, size, out.data_ptr<std::uint8_t>(), sw, sw * 3, sh, TJPF_RGB, 0);
  }
  if (rc != 0) {
    const std::string why = tjGetErrorStr2(tj.h);
    if (tjGetErrorCode(tj.h) == TJERR_FATAL) throw DataError(origin + ": JPEG decode failed (" + why + ")");
    if (why.find("Premature end") != std::string::npos) throw DataError(origin + ": truncated JPEG (" + why + ")");
  }
  return out;
}

at::Tensor stb_decode(const std::string& bytes, const std::string& origin) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) throw DataError(origin + ": image file too large");
  int w = 0, h = 0, n = 0;
  if (stbi_info_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), &w,
                            &h, &n) != 0) {
    check_pixels(w, h, origin);
  }
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(bytes.data()),
                                            static_cast<int>(bytes.size()), &w, &h, &n, 3);
  if (px == nullptr) {
    throw DataError(origin + ": not a decodable image (" + std::string(stbi_failure_reason()) + ")");
  }
  at::Tensor out = at::empty({h, w, 3}, at::kByte);
  std::memcpy(out.data_ptr(), px, static_cast<std::size_t>(w) * h * 3);
  stbi_image_free(px);
  return out;
}

}  // namespace

void set_max_image_pixels(std::int64_t pixels) { g_max_pixels.store(pixels > 0 ? pixels : kDefaultMaxImagePixels); }
std::int64_t max_image_pixels() { return g_max_pixels.load(); }

at::Tensor decode_image(const std::string& bytes, const std::string& origin) {
  if (bytes.empty()) throw DataError(origin + ": empty file");
  if (is_jpeg(bytes)) {
    Tj tj;
    return jpeg_decode(tj, bytes, jpeg_header(tj, bytes, origin), tjscalingfactor{1, 1}, origin);
  }
  return stb_decode(bytes, origin);
}

CropBox map_crop(const CropBox& box, int num, int denom, std::int64_t scaled_h, std::int64_t scaled_w) {
  if (num == denom) return box;
  const auto edge = [&](std::int64_t x, std::int64_t limit) {
    const auto v = static_cast<std::int64_t>(std::llround(static_cast<double>(x) * num / denom));
    return std::clamp<std::int64_t>(v, 0, limit);
  };
  CropBox out;
  out.top = std::min(edge(box.top, scaled_h), scaled_h - 1);
  out.left = std::min(edge(box.left, scaled_w), scaled_w - 1);
  out.height = std::max<std::int64_t>(1, edge(box.top + box.height, scaled_h) - out.top);
  out.width = std::max<std::int64_t>(1, edge(box.left + box.width, scaled_w) - out.left);
  return out;
}

CroppedImage decode_image_cropped(const std::string& bytes, const std::string& origin, const CropPlan& plan,
                                  std::int64_t min_side) {
  if (bytes.empty()) throw DataError(origin + ": empty file");
  CroppedImage out;
  if (!is_jpeg(bytes)) {
    out.pixels = stb_decode(bytes, origin);
    out.box = plan(out.pixels.size(0), out.pixels.size(1));
    return out;
  }
  Tj tj;
  const JpegHeader hd = jpeg_header(tj, bytes, origin);
  const CropBox full = plan(hd.height, hd.width);
  // The largest reduction (smallest factor <= 1) whose mapped crop still has >= min_side pixels on both sides.
  tjscalingfactor best{1, 1};
  if (min_side > 0) {
    int n = 0;
    const tjscalingfactor* sfs = tjGetScalingFactors(&n);
    double best_value = 1.0;
    for (int i = 0; sfs != nullptr && i < n; ++i) {
      const tjscalingfactor sf = sfs[i];
      const double v = static_cast<double>(sf.num) / sf.denom;
      if (v >= best_value) continue;
      const CropBox m = map_crop(full, sf.num, sf.denom, TJSCALED(hd.height, sf), TJSCALED(hd.width, sf));
      if (m.height >= min_side && m.width >= min_side) {
        best = sf;
        best_value = v;
      }
    }
  }
  out.pixels = jpeg_decode(tj, bytes, hd, best, origin);
  out.box = map_crop(full, best.num, best.denom, out.pixels.size(0), out.pixels.size(1));
  out.scale_num = best.num;
  out.scale_denom = best.denom;
  return out;
}

namespace {

class ImageFolder final : public Dataset {
 public:
  struct Entry {
    std::string name;  // file name inside its class folder
    std::int64_t label;
  };
  ImageFolder(std::string root, std::vector<std::string> classes, std::vector<Entry> files, OpenSkips skips,
              std::int64_t min_size, std::string desc)
      : root_(std::move(root)),
        classes_(std::move(classes)),
        files_(std::move(files)),
        skips_(std::move(skips)),
        min_size_(min_size),
        desc_(std::move(desc)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  std::int64_t num_classes() const override { return static_cast<std::int64_t>(classes_.size()); }
  std::string describe() const override { return desc_; }
  std::vector<std::string> class_names() const override { return classes_; }
  OpenSkips open_skips() const override { return skips_; }

  Image get(std::int64_t i) const override {
    const Entry& e = entry(i);
    const std::string path = path_of(e);
    Image img{decode_image(read_file(path), path), e.label};
    check_size(img.pixels.size(0), img.pixels.size(1), path);
    return img;
  }

  CroppedImage get_cropped(std::int64_t i, const CropPlan& plan, std::int64_t min_side) const override {
    const Entry& e = entry(i);
    const std::string path = path_of(e);
    CroppedImage out = decode_image_cropped(
        read_file(path), path,
        [&](std::int64_t h, std::int64_t w) {
          check_size(h, w, path);  // before the plan draws or anything is decoded
          return plan(h, w);
        },
        min_side);
    out.label = e.label;
    return out;
  }

 private:
  const Entry& entry(std::int64_t i) const {
    if (i < 0 || i >= size()) throw DataError("image_folder: index " + std::to_string(i) + " out of range");
    return files_[static_cast<std::size_t>(i)];
  }
  std::string path_of(const Entry& e) const {
    return (fs::path(root_) / classes_[static_cast<std::size_t>(e.label)] / e.name).string();
  }
  void check_size(std::int64_t h, std::int64_t w, const std::string& path) const {
    if (std::min(h, w) < min_size_) {
      throw DataError(path + ": " + std::to_string(w) + "x" + std::to_string(h) +
                      " image is smaller than data.min_image_size (" + std::to_string(min_size_) + ")");
    }
  }

  std::string root_;
  std::vector<std::string> classes_;
  std::vector<Entry> files_;
  OpenSkips skips_;
  std::int64_t min_size_;
  std::string desc_;
};

std::string trim(const std::string& s) {
  std::size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// A file list: one entry per line, a bare name ("n01440764_10026.JPEG", matched in any class folder) or a path whose
// last two components are class/name; blank lines and lines starting with '#' are ignored.
std::map<std::string, bool> read_file_list(const std::string& file_list) {
  std::ifstream in(file_list);
  if (!in) throw DataError("data.file_list: cannot read " + file_list);
  std::map<std::string, bool> wanted;  // entry -> matched
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const fs::path p(line);
    const std::string name = p.filename().string();
    const std::string parent = p.parent_path().filename().string();
    wanted.emplace(parent.empty() ? name : parent + "/" + name, false);
  }
  if (wanted.empty()) throw DataError("data.file_list: " + file_list + " lists no files");
  return wanted;
}

void note(OpenSkips& s, const std::string& why, const std::string& path) {
  if (s.examples.size() < kMaxExamples) s.examples.push_back(why + ": " + path);
}

}  // namespace

std::shared_ptr<Dataset> open_image_folder(const std::string& root, const ImageFolderOptions& opts) {
  std::error_code ec;
  if (root.empty()) throw DataError("data.root: image_folder needs a directory (ROOT/<class>/<image>)");
  if (!fs::is_directory(root, ec)) throw DataError("data.root: " + root + " is not a directory");
  std::map<std::string, bool> wanted;
  if (!opts.file_list.empty()) wanted = read_file_list(opts.file_list);

  std::vector<std::string> classes;
  std::int64_t loose_files = 0;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden entries (and our cache's completion marker)
    std::error_code ec2;
    if (it->is_directory(ec2)) {
      classes.push_back(name);
    } else {
      ++loose_files;
    }
  }
  if (ec) throw DataError("data.root: cannot list " + root + ": " + ec.message());
  if (classes.empty()) {
    throw DataError("data.root: no class directories under " + root + " (expected ROOT/<class>/<image>" +
                    (loose_files > 0 ? "; found " + std::to_string(loose_files) + " files directly in ROOT" : "") +
                    ")");
  }
  std::sort(classes.begin(), classes.end());

  OpenSkips skips;
  std::vector<ImageFolder::Entry> files;
  // An empty class folder (no image file at all) is left out of the classes too, so the labels and the class count
  // are those of the folders with images (a train/ with an extra empty folder beside a val/ without it is the same
  // 10 classes). A class whose images a file list leaves out keeps its label: the list selects within the classes.
  std::vector<std::string> with_images;
  const std::size_t folders = classes.size();
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<std::string> names;
    bool any_image = false;  // before a file list selects: a class the list leaves empty keeps its label
    const fs::path class_dir = fs::path(root) / classes[c];
    for (fs::directory_iterator it(class_dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      std::error_code ec2;
      const std::string ext = lower(it->path().extension().string());
      const bool image_ext = ext == ".jpg" || ext == ".jpeg" || ext == ".png";
      if (name.empty() || name[0] == '.' || !it->is_regular_file(ec2) || !image_ext) {
        ++skips.non_image;
        note(skips, "not an image file", it->path().string());
        continue;
      }
      any_image = true;
      if (!wanted.empty()) {
        auto w = wanted.find(classes[c] + "/" + name);
        if (w == wanted.end()) w = wanted.find(name);
        if (w == wanted.end()) continue;  // not selected by the list
        w->second = true;
      }
      names.push_back(name);
    }
    if (ec) {
      logging::warn("data.root: cannot list class directory " + class_dir.string() + ": " + ec.message());
      ec.clear();
    }
    if (!any_image) {
      ++skips.empty_classes;
      note(skips, "empty class folder", class_dir.string());
      continue;
    }
    std::sort(names.begin(), names.end());
    const auto label = static_cast<std::int64_t>(with_images.size());
    with_images.push_back(classes[c]);
    for (auto& n : names) files.push_back({std::move(n), label});
  }
  for (const auto& [entry, matched] : wanted) {
    if (matched) continue;
    ++skips.missing_listed;
    note(skips, "listed in " + opts.file_list + " but not found", entry);
  }
  const std::string summary = std::to_string(skips.non_image) + " non-image entries, " +
                              std::to_string(skips.empty_classes) + " empty class folders" +
                              (opts.file_list.empty() ? std::string()
                                                      : ", " + std::to_string(skips.missing_listed) +
                                                            " listed files missing");
  if (files.empty()) {
    throw DataError("data.root: no usable .jpg/.jpeg/.png images under " + root + "/<class>/ (" +
                    std::to_string(folders) + " class folders; " + summary + ")");
  }
  if (skips.total() > 0) {
    std::string msg = opts.name + " " + root + ": left out " + summary + "; e.g.";
    for (const auto& e : skips.examples) msg += "\n  " + e;
    logging::warn(msg);
  }
  const std::string desc = opts.name + " (" + std::to_string(files.size()) + " images, " +
                           std::to_string(with_images.size()) + " classes) from " + root +
                           (opts.file_list.empty() ? "" : " filtered by " + opts.file_list);
  return std::make_shared<ImageFolder>(root, std::move(with_images), std::move(files), std::move(skips),
                                       opts.min_image_size, desc);
}

}  // namespace ijepa::host
