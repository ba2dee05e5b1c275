#pragma once
// safetensors reader and writer (huggingface/safetensors "Format"): u64 header length, JSON header, raw bytes.
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

#include <ATen/core/Tensor.h>

namespace ijepa::host {

class SafetensorsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using TensorMap = std::map<std::string, at::Tensor>;
using StringMap = std::map<std::string, std::string>;

// read_safetensors(path, metadata) -> name -> CPU tensor (owned copies). Validates the header: size cap
// (100 MiB), offsets in range, contiguous, non-overlapping, matching dtype * shape. Errors name the file.
TensorMap read_safetensors(const std::string& path, StringMap* metadata = nullptr);
// parse_safetensors(bytes, origin, metadata): the same on an in-memory buffer.
TensorMap parse_safetensors(const std::string& bytes, const std::string& origin, StringMap* metadata = nullptr);
// write_safetensors(path, tensors, metadata): CPU contiguous little-endian; header padded to 8 bytes; atomic
// (temp file, fsync, rename).
void write_safetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata = {});
// serialize_safetensors(tensors, metadata) -> the file's bytes.
std::string serialize_safetensors(const TensorMap& tensors, const StringMap& metadata = {});

}  // namespace ijepa::host
