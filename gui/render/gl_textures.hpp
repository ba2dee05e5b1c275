#pragma once
// TextureCache on OpenGL: one GL texture per key, allocated once (glTexImage2D, GL_RGBA8) and updated with
// glTexSubImage2D while its size stays. Main thread only (the views draw there); textures are deleted when the
// cache is destroyed, before the GL context goes away.
#include <map>
#include <string>

#include "views/texture_cache.hpp"

namespace ijepa::gui {

class GlTextureCache final : public TextureCache {
 public:
  GlTextureCache() = default;
  ~GlTextureCache() override;
  GlTextureCache(const GlTextureCache&) = delete;
  GlTextureCache& operator=(const GlTextureCache&) = delete;
  ImTextureID texture(const std::string& key, const RgbaImage& image, std::uint64_t version, bool linear) override;

 private:
  struct Entry {
    unsigned int id = 0;
    int width = 0, height = 0;
    std::uint64_t version = ~0ULL;
  };
  std::map<std::string, Entry> entries_;
};

// save_screenshot(path, width, height) -> "" on success, else the error: reads the back buffer (RGBA8) and writes a
// PNG, rows flipped to top-down.
std::string save_screenshot(const std::string& path, int width, int height);

}  // namespace ijepa::gui
