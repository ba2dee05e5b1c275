#include "render/gl_textures.hpp"

#include <GL/gl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace ijepa::gui {

GlTextureCache::~GlTextureCache() {
  for (auto& kv : entries_) {
    if (kv.second.id) glDeleteTextures(1, &kv.second.id);
  }
}

ImTextureID GlTextureCache::texture(const std::string& key, const RgbaImage& image, std::uint64_t version, bool linear) {
  Entry& e = entries_[key];
  if (e.id == 0) glGenTextures(1, &e.id);
  if (e.version != version && image.width > 0 && image.height > 0) {
    glBindTexture(GL_TEXTURE_2D, e.id);
    glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
    const GLint filter = linear ? GL_LINEAR : GL_NEAREST;
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, filter);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
    if (e.width == image.width && e.height == image.height) {
      glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, image.width, image.height, GL_RGBA, GL_UNSIGNED_BYTE, image.pixels.data());
    } else {
      glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, image.width, image.height, 0, GL_RGBA, GL_UNSIGNED_BYTE,
                   image.pixels.data());
      e.width = image.width;
      e.height = image.height;
    }
    e.version = version;
  }
  return reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(e.id));
}

std::string save_screenshot(const std::string& path, int width, int height) {
  if (width <= 0 || height <= 0) return "empty framebuffer";
  std::vector<std::uint8_t> px(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, px.data());
  if (const GLenum err = glGetError(); err != GL_NO_ERROR) return "glReadPixels failed (GL error " + std::to_string(err) + ")";
  const std::size_t row = static_cast<std::size_t>(width) * 4;
  std::vector<std::uint8_t> flipped(px.size());
  for (int y = 0; y < height; ++y) {
    std::copy_n(px.data() + static_cast<std::size_t>(height - 1 - y) * row, row, flipped.data() + static_cast<std::size_t>(y) * row);
  }
  for (std::size_t i = 3; i < flipped.size(); i += 4) flipped[i] = 255;  // opaque PNG whatever the visual's alpha
  if (!stbi_write_png(path.c_str(), width, height, 4, flipped.data(), static_cast<int>(row))) {
    return path + ": cannot write the PNG";
  }
  return "";
}

}  // namespace ijepa::gui
