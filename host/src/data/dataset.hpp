#pragma once
// Image datasets: a source yields HxWxC uint8 images with integer labels.
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace ijepa::host {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Image {
  at::Tensor pixels;  // uint8 [H, W, C], C = 1 or 3, contiguous
  std::int64_t label = -1;
};

// [thread-safe for concurrent get()] A random-access image source.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  virtual Image get(std::int64_t index) const = 0;
  virtual std::int64_t num_classes() const = 0;
  virtual std::string describe() const = 0;  // "fashion_mnist train (60000 images, 10 classes) from /usr/share/..."
};

// The data section of an experiment, with its defaults (every key documented in data_doc()).
nlohmann::json data_defaults();
nlohmann::json data_doc();

// open_dataset(data_cfg, split) -> the source named by data.source for "train" or "test"/"val".
// Throws DataError naming the key and the path when the data cannot be found or read.
std::shared_ptr<Dataset> open_dataset(const nlohmann::json& data_cfg, const std::string& split);

// Sources.
std::shared_ptr<Dataset> open_fashion_mnist(const std::string& root, const std::string& split);
std::shared_ptr<Dataset> open_image_folder(const std::string& root, const std::string& file_list);
// decode_image(bytes, origin) -> uint8 [H, W, 3] (JPEG via TurboJPEG, PNG/BMP/TGA via stb_image).
at::Tensor decode_image(const std::string& bytes, const std::string& origin);
std::shared_ptr<Dataset> open_synthetic(std::int64_t count, std::int64_t size, std::int64_t classes, std::uint64_t seed);

}  // namespace ijepa::host
