#pragma once
// Image fixtures for the data tests: small JPEGs (RGB, grey, CMYK) through TurboJPEG and PNGs through stb_image_write,
// written into per-test temporary directories.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "temp_dirs.hpp"

namespace ijepa::test {

// A smooth colour pattern, uint8 [h, w, 3] (gradients plus a low-frequency wave: compresses well, decodes close).
at::Tensor pattern_rgb(std::int64_t h, std::int64_t w, int seed = 0);

// JPEG bytes of pixels: uint8 [h, w, 3] (RGB), [h, w, 1] (grey) or [h, w, 4] (CMYK, stored as given).
std::string encode_jpeg(const at::Tensor& pixels, int quality = 95);
std::string encode_png(const at::Tensor& pixels);  // [h, w, 1|3]

void write_bytes(const std::filesystem::path& p, const std::string& bytes);

// mean |a - b| over all elements (as float).
double mean_abs_diff(const at::Tensor& a, const at::Tensor& b);

inline std::filesystem::path data_temp_dir(const std::string& tag) { return fresh_temp_dir("ijepa_data_" + tag); }

}  // namespace ijepa::test
