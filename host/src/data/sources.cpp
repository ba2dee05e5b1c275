// The data-source registry (data.source) and the synthetic source.
#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/decoded_cache.hpp"
#include "ijepa/host/data/rng.hpp"
#include "ijepa/host/util/errors.hpp"

namespace ijepa::host {
namespace {

// Deterministic images: a class-specific oriented grating and colour, plus per-image phase and noise.
class Synthetic final : public Dataset {
 public:
  Synthetic(std::int64_t count, std::int64_t size, std::int64_t classes, std::uint64_t seed)
      : count_(count), size_(size), classes_(classes), seed_(seed) {}
  std::int64_t size() const override { return count_; }
  std::int64_t num_classes() const override { return classes_; }
  std::string describe() const override {
    return "synthetic (" + std::to_string(count_) + " images " + std::to_string(size_) + "x" + std::to_string(size_) +
           ", " + std::to_string(classes_) + " classes, seed " + std::to_string(seed_) + ")";
  }
  Image get(std::int64_t index) const override {
    SampleRng rng(mix_seed(seed_, static_cast<std::uint64_t>(index), 0x5e7u));
    // classes_ == 0: unlabelled images (label -1) drawn from four patterns.
    const std::int64_t patterns = classes_ > 0 ? classes_ : 4;
    const std::int64_t label = index % patterns;
    const double angle = M_PI * static_cast<double>(label) / static_cast<double>(patterns);
    const double freq = 2.0 + static_cast<double>(label % 3);
    const double phase = rng.uniform(0.0, 2.0 * M_PI);
    const double c[3] = {0.5 + 0.4 * std::cos(angle), 0.5 + 0.4 * std::sin(2 * angle), 0.5 - 0.3 * std::cos(3 * angle)};
    at::Tensor img = at::empty({size_, size_, 3}, at::kByte);
    auto* p = img.data_ptr<std::uint8_t>();
    for (std::int64_t y = 0; y < size_; ++y) {
      for (std::int64_t x = 0; x < size_; ++x) {
        const double u = (std::cos(angle) * x + std::sin(angle) * y) / static_cast<double>(size_);
        const double g = 0.5 + 0.5 * std::sin(2 * M_PI * freq * u + phase);
        for (int ch = 0; ch < 3; ++ch) {
          double v = 255.0 * (0.6 * g * c[ch] + 0.4 * c[ch]) + rng.uniform(-12.0, 12.0);
          v = v < 0 ? 0 : v > 255 ? 255 : v;
          *p++ = static_cast<std::uint8_t>(v);
        }
      }
    }
    return Image{img, classes_ > 0 ? label : -1};
  }

 private:
  std::int64_t count_, size_, classes_;
  std::uint64_t seed_;
};

}  // namespace

CroppedImage Dataset::get_cropped(std::int64_t index, const CropPlan& plan, std::int64_t /*min_side*/) const {
  Image img = get(index);
  CroppedImage out;
  out.box = plan(img.pixels.size(0), img.pixels.size(1));
  out.pixels = std::move(img.pixels);
  out.label = img.label;
  return out;
}

std::shared_ptr<Dataset> open_synthetic(std::int64_t count, std::int64_t size, std::int64_t classes,
                                        std::uint64_t seed) {
  return std::make_shared<Synthetic>(count, size, classes, seed);
}

nlohmann::json data_defaults() {
  return {{"source", "fashion_mnist"},
          {"root", ""},
          {"val_root", ""},
          {"file_list", ""},
          {"image_size", 32},
          {"crop_scale", {0.3, 1.0}},
          {"hflip", false},
          {"workers", 2},
          {"limit", 0},
          {"min_image_size", 8},
          {"max_pixels", kDefaultMaxImagePixels},
          {"synthetic_count", 2048},
          {"synthetic_classes", 10},
          {"cache_dir", ""}};
}

nlohmann::json data_doc() {
  return {{"source", "dataset: fashion_mnist (Debian package), image_folder (ImageNet layout), cifar10_jpeg "
                     "(cifar10-jpeg.tar.gz: CIFAR-10 as JPEGs, train/test), imagenette (imagenette224.tar.gz: "
                     "train/val) or synthetic"},
          {"root", "dataset location ('' = the source's default); image_folder: the train ROOT/<class>/<image>; "
                   "cifar10_jpeg, imagenette: the tarball or its extracted directory ('' = $IJEPA_DATASETS_DIR, "
                   "else shared/datasets/ above the working or source directory; tarballs are extracted once into "
                   "${XDG_CACHE_HOME:-~/.cache}/ijepa-workbench/datasets/)"},
          {"val_root", "image_folder: the held-out split's directory (for evaluation)"},
          {"file_list", "image_folder, cifar10_jpeg, imagenette: text file of image names (or class/name) to train "
                        "on, e.g. the official 1% subset; blank and '#' lines ignored, missing names warned"},
          {"image_size", "crop size fed to the encoder, in pixels (must equal components.encoder.img_size)"},
          {"crop_scale", "RandomResizedCrop area range [lo, hi] (official 0.3-1.0)"},
          {"hflip", "random horizontal flip (off in the official configs)"},
          {"workers", "loader threads preparing batches and masks ahead of the trainer"},
          {"cache_dir", "decode each split once into DIR (raw uint8 pixels, memory-mapped and shared by every process "
                        "that opens the same data: a sweep's trials, a run's ranks, later runs) and read images from "
                        "there instead of decoding them every epoch; needs images of one size ('' = off)"},
          {"limit", "use only the first N images of the split (0 = all)"},
          {"max_pixels", "images whose header claims more pixels are unreadable (skipped in training, in ijepa eval and "
                         "embed), refused before decoding: a 629-byte JPEG claiming 60000x60000 costs nothing"},
          {"min_image_size", "image_folder, cifar10_jpeg, imagenette: images with a side shorter than this are "
                             "skipped like undecodable files (0 = keep all)"},
          {"synthetic_count", "images in the synthetic source"},
          {"synthetic_classes", "classes in the synthetic source (0 = unlabelled images)"}};
}

void validate_data_config(const nlohmann::json& cfg) {
  const std::string source = cfg.at("source").get<std::string>();
  const bool known = source == "fashion_mnist" || source == "image_folder" || source == "synthetic";
  if (!known && archive_spec(source) == nullptr) {
    throw ConfigError("data.source: unknown source '" + source +
                      "' (available: fashion_mnist, image_folder, cifar10_jpeg, imagenette, synthetic)");
  }
  const std::int64_t min_size = cfg.contains("min_image_size") ? cfg.at("min_image_size").get<std::int64_t>() : 0;
  if (min_size < 0) throw ConfigError("data.min_image_size: must be >= 0, got " + std::to_string(min_size));
  if (cfg.contains("max_pixels")) {
    const auto max_px = cfg.at("max_pixels").get<std::int64_t>();
    if (max_px < 1) throw ConfigError("data.max_pixels: must be >= 1, got " + std::to_string(max_px));
  }
  if (cfg.contains("limit") && cfg.at("limit").get<std::int64_t>() < 0) {
    throw ConfigError("data.limit: must be >= 0 (0 = all images), got " + cfg.at("limit").dump());
  }
  if (source == "synthetic") {
    const auto n = cfg.at("synthetic_count").get<std::int64_t>();
    const auto classes = cfg.at("synthetic_classes").get<std::int64_t>();
    if (n <= 0) throw ConfigError("data.synthetic_count: must be > 0, got " + std::to_string(n));
    constexpr std::int64_t kMaxSynthetic = 100'000'000;  // each epoch's permutation holds one index per image
    if (n > kMaxSynthetic) {
      throw ConfigError("data.synthetic_count: at most " + std::to_string(kMaxSynthetic) + ", got " +
                        std::to_string(n));
    }
    if (classes < 0) {
      throw ConfigError("data.synthetic_classes: must be >= 0 (0 = unlabelled), got " + std::to_string(classes));
    }
  }
}

std::shared_ptr<Dataset> open_dataset(const nlohmann::json& cfg, const std::string& split) {
  validate_data_config(cfg);
  const std::string source = cfg.at("source").get<std::string>();
  const std::string root = cfg.at("root").get<std::string>();
  const std::int64_t min_size = cfg.contains("min_image_size") ? cfg.at("min_image_size").get<std::int64_t>() : 0;
  if (cfg.contains("max_pixels")) set_max_image_pixels(cfg.at("max_pixels").get<std::int64_t>());
  const bool train = split == "train";
  std::shared_ptr<Dataset> ds;
  if (source == "fashion_mnist") {
    ds = open_fashion_mnist(root.empty() ? "/usr/share/datasets/fashion-mnist" : root, train ? "train" : "test");
  } else if (source == "image_folder") {
    ImageFolderOptions o;
    o.min_image_size = min_size;
    if (train) {
      o.file_list = cfg.at("file_list").get<std::string>();
      ds = open_image_folder(root, o);
    } else {
      const std::string val_root = cfg.at("val_root").get<std::string>();
      if (val_root.empty()) throw DataError("data.val_root: image_folder needs a held-out directory for evaluation");
      ds = open_image_folder(val_root, o);
    }
  } else if (const ArchiveSpec* a = archive_spec(source)) {
    const std::string sub = train ? "train" : a->eval_split;
    ImageFolderOptions o;
    o.min_image_size = min_size;
    o.name = source + " " + sub;
    if (train) o.file_list = cfg.at("file_list").get<std::string>();
    ds = open_image_folder((std::filesystem::path(archive_root(*a, root)) / sub).string(), o);
  } else if (source == "synthetic") {
    const auto n = cfg.at("synthetic_count").get<std::int64_t>();
    const auto size = cfg.at("image_size").get<std::int64_t>();
    const auto classes = cfg.at("synthetic_classes").get<std::int64_t>();
    ds = open_synthetic(train ? n : std::max<std::int64_t>(n / 4, classes), size, classes, train ? 1 : 2);
  }  // validate_data_config refused any other source
  if (cfg.contains("cache_dir") && !cfg.at("cache_dir").get<std::string>().empty()) {
    ds = open_decoded_cache(ds, cfg.at("cache_dir").get<std::string>());
  }
  return ds;
}

}  // namespace ijepa::host
