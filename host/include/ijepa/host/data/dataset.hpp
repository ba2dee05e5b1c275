#pragma once
// Image datasets: a source yields HxWxC uint8 images with integer labels.
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace ijepa::host {

namespace proc {
class FileLock;  // ijepa/host/proc/process.hpp
}

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Image {
  at::Tensor pixels;  // uint8 [H, W, C], C = 1 or 3, contiguous
  std::int64_t label = -1;
};

// A crop rectangle in pixel coordinates of some image.
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

// A crop plan: plan(height, width) -> the crop box at FULL resolution. Called once per get_cropped(), with the
// image's full-resolution size, so its random draws never depend on how the image is decoded.
using CropPlan = std::function<CropBox(std::int64_t height, std::int64_t width)>;

// An image (possibly decoded at a reduced scale) and the planned crop mapped into its coordinates.
struct CroppedImage {
  at::Tensor pixels;  // uint8 [h, w, C]
  CropBox box;        // inside pixels
  std::int64_t label = -1;
  int scale_num = 1, scale_denom = 1;  // decode scale relative to the full-resolution image
};

// Files a source left out when it was opened (they are never served); see ImageFolder.
struct OpenSkips {
  std::int64_t non_image = 0;       // class-folder entries that are not .jpg/.jpeg/.png files (or are hidden)
  std::int64_t empty_classes = 0;   // class folders without any image (the class keeps its label)
  std::int64_t missing_listed = 0;  // data.file_list entries with no matching file
  std::vector<std::string> examples;  // the first few, "reason: path"
  std::int64_t total() const { return non_image + empty_classes + missing_listed; }
};

// [thread-safe for concurrent get()/get_cropped()] A random-access image source.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // get(i) -> the image; throws DataError (naming the file) when it cannot be read or decoded.
  virtual Image get(std::int64_t index) const = 0;
  virtual std::int64_t num_classes() const = 0;
  virtual std::string describe() const = 0;  // "fashion_mnist train (60000 images, 10 classes) from /usr/share/..."
  // get_cropped(i, plan, min_side): the image with plan's crop. A decoder may decode at a reduced scale (JPEG DCT
  // scaling) as long as the mapped crop keeps >= min_side pixels on both sides. Deterministic. Default: get().
  virtual CroppedImage get_cropped(std::int64_t index, const CropPlan& plan, std::int64_t min_side) const;
  // Class names, label order (image folders: the sorted class directory names); empty when the source has none.
  virtual std::vector<std::string> class_names() const { return {}; }
  // What was left out when the source was opened.
  virtual OpenSkips open_skips() const { return {}; }
};

// The data section of an experiment, with its defaults (every key documented in data_doc()).
nlohmann::json data_defaults();
nlohmann::json data_doc();

// validate_data_config(data_cfg): the data values that need no disk (a known source, the ranges of min_image_size,
// max_pixels, limit, synthetic_count, synthetic_classes); ConfigError naming the key. Checked before a run starts.
void validate_data_config(const nlohmann::json& data_cfg);

// open_dataset(data_cfg, split) -> the source named by data.source for "train" or "test"/"val".
// Throws ConfigError for a bad value (validate_data_config), DataError naming the key and the path when the data
// cannot be found or read.
std::shared_ptr<Dataset> open_dataset(const nlohmann::json& data_cfg, const std::string& split);

// Sources.
std::shared_ptr<Dataset> open_fashion_mnist(const std::string& root, const std::string& split);

struct ImageFolderOptions {
  std::string file_list;            // optional subset: one name (or class/name) per line
  std::int64_t min_image_size = 0;  // images with a side shorter than this fail get() (0: no minimum)
  std::string name = "image_folder";  // the source name in describe()
};
std::shared_ptr<Dataset> open_image_folder(const std::string& root, const ImageFolderOptions& opts);
inline std::shared_ptr<Dataset> open_image_folder(const std::string& root, const std::string& file_list) {
  ImageFolderOptions o;
  o.file_list = file_list;
  return open_image_folder(root, o);
}

// The archive sources (cifar10_jpeg, imagenette): a tarball extracted once into the cache, served as image folders.
struct ArchiveSpec {
  std::string source;      // "cifar10_jpeg"
  std::string file;        // "cifar10-jpeg.tar.gz" (under shared/datasets/)
  std::string name;        // "cifar10-jpeg" (the cache directory name)
  std::string eval_split;  // "test" or "val"
};
// The spec of an archive source, or nullptr when `source` is not one.
const ArchiveSpec* archive_spec(const std::string& source);
// locate_archive(spec, root) -> the tarball or an extracted directory: root if set, else $IJEPA_DATASETS_DIR/<file>,
// else shared/datasets/<file> searched upward from the current directory and from the source tree.
// Throws DataError listing the places searched.
std::string locate_archive(const ArchiveSpec& spec, const std::string& root);
// lock_data_cache(lock_file, doing): the exclusive lock of a cache that one process fills while the others wait
// (logging "waiting for another process <doing>" once); DataError naming the file when it cannot be locked.
proc::FileLock lock_data_cache(const std::filesystem::path& lock_file, const std::string& doing);
// dataset_cache_dir() -> ${XDG_CACHE_HOME:-$HOME/.cache}/ijepa-workbench/datasets
std::string dataset_cache_dir();
// extract_archive(tarball, name) -> the extracted directory <cache>/<name> (holding train/ ...). Extracts once with the
// system tar into a temporary directory renamed into place, under an flock; later calls return at once.
std::string extract_archive(const std::string& tarball, const std::string& name);
// archive_root(spec, root) -> the directory holding the splits (locating and extracting as needed).
std::string archive_root(const ArchiveSpec& spec, const std::string& root);

// Decoding limits against hostile files: an image whose header claims more than max_image_pixels() pixels is a
// DataError before any pixel buffer is allocated (data.max_pixels sets it for a process; default 100 megapixels),
// and an image file larger than kMaxImageFileBytes is refused before it is read.
constexpr std::int64_t kDefaultMaxImagePixels = 100'000'000;
constexpr std::uint64_t kMaxImageFileBytes = 1ull << 30;
void set_max_image_pixels(std::int64_t pixels);  // <= 0: the default
std::int64_t max_image_pixels();

// decode_image(bytes, origin) -> uint8 [H, W, 3] (JPEG via TurboJPEG, PNG/BMP/TGA via stb_image); grey, CMYK and
// palette images become RGB. Throws DataError (naming origin) for corrupt, truncated or unknown data.
at::Tensor decode_image(const std::string& bytes, const std::string& origin);
// decode_image_cropped(bytes, origin, plan, min_side): JPEGs are decoded at the smallest TurboJPEG scaling factor
// (<= 1) that keeps the mapped crop >= min_side on both sides (min_side <= 0: full resolution); other formats at full
// resolution. label is left at -1.
CroppedImage decode_image_cropped(const std::string& bytes, const std::string& origin, const CropPlan& plan,
                                  std::int64_t min_side);
// map_crop(box, num, denom, scaled_h, scaled_w) -> box in the coordinates of the image scaled by num/denom.
CropBox map_crop(const CropBox& box, int num, int denom, std::int64_t scaled_h, std::int64_t scaled_w);
std::shared_ptr<Dataset> open_synthetic(std::int64_t count, std::int64_t size, std::int64_t classes, std::uint64_t seed);

}  // namespace ijepa::host
