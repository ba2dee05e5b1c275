#include "fixtures.hpp"

#include <turbojpeg.h>

#include <cmath>
#include <fstream>
#include <stdexcept>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ijepa::test {

at::Tensor pattern_rgb(std::int64_t h, std::int64_t w, int seed) {
  at::Tensor img = at::empty({h, w, 3}, at::kByte);
  auto* p = img.data_ptr<std::uint8_t>();
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) {
      const double u = static_cast<double>(x) / static_cast<double>(w), v = static_cast<double>(y) / static_cast<double>(h);
      const double wave = 0.5 + 0.5 * std::sin(2 * M_PI * (2 * u + 1.5 * v) + seed);
      const double c[3] = {40 + 170 * u, 40 + 170 * v, 30 + 190 * wave};
      for (int ch = 0; ch < 3; ++ch) *p++ = static_cast<std::uint8_t>(c[ch]);
    }
  }
  return img;
}

std::string encode_jpeg(const at::Tensor& pixels, int quality) {
  const at::Tensor px = pixels.contiguous();
  const int h = static_cast<int>(px.size(0)), w = static_cast<int>(px.size(1)), c = static_cast<int>(px.size(2));
  const int pf = c == 1 ? TJPF_GRAY : c == 4 ? TJPF_CMYK : TJPF_RGB;
  const int samp = c == 1 ? TJSAMP_GRAY : TJSAMP_444;
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, px.data_ptr<std::uint8_t>(), w, w * c, h, pf, &buf, &size, samp, quality, 0);
  const std::string why = rc != 0 ? tjGetErrorStr2(tj) : "";
  tjDestroy(tj);
  if (rc != 0) throw std::runtime_error("tjCompress2: " + why);
  std::string out(reinterpret_cast<const char*>(buf), size);
  tjFree(buf);
  return out;
}

namespace {
void append(void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size); }
}  // namespace

std::string encode_png(const at::Tensor& pixels) {
  const at::Tensor px = pixels.contiguous();
  const int h = static_cast<int>(px.size(0)), w = static_cast<int>(px.size(1)), c = static_cast<int>(px.size(2));
  std::string out;
  if (stbi_write_png_to_func(append, &out, w, h, c, px.data_ptr<std::uint8_t>(), w * c) == 0)
    throw std::runtime_error("stbi_write_png_to_func failed");
  return out;
}

void write_bytes(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

double mean_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().mean().item<double>();
}

}  // namespace ijepa::test
