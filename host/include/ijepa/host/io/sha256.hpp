#pragma once
// Minimal SHA-256 (FIPS 180-4) for file fingerprints in env.json and config hashes.
#include <cstddef>
#include <cstdint>
#include <string>

namespace ijepa::host {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t len);
  std::string hex();  // finalises; call once

 private:
  void block(const std::uint8_t* p);
  std::uint32_t h_[8];
  std::uint8_t buf_[64];
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(const std::string& data);
std::string sha256_hex_file(const std::string& path);  // "" if unreadable

}  // namespace ijepa::host
