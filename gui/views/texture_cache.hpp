#pragma once
// Textures as the views see them: a key, an RGBA8 image and a version. The GL implementation (gui/render) uploads
// on the main thread; the headless one hands out dummy ids so every view runs without a GL context.
#include <cstdint>
#include <map>
#include <string>

#include <imgui.h>

#include "core/colormap.hpp"

namespace ijepa::gui {

class TextureCache {
 public:
  virtual ~TextureCache() = default;
  // texture(key, image, version, linear) -> an id showing `image`; re-uploaded when `version` changes for the key.
  // linear: GL_LINEAR (photos) or GL_NEAREST (patch maps).
  virtual ImTextureID texture(const std::string& key, const RgbaImage& image, std::uint64_t version, bool linear) = 0;
};

// For tests and the headless tier: remembers what would be uploaded, draws nothing.
class NullTextureCache final : public TextureCache {
 public:
  ImTextureID texture(const std::string& key, const RgbaImage& image, std::uint64_t version, bool linear) override {
    auto& e = entries_[key];
    if (e.version != version || e.id == 0) {
      if (e.id == 0) e.id = ++next_;
      e.version = version;
      e.width = image.width;
      e.height = image.height;
      ++uploads_;
    }
    return reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(e.id));
  }
  std::size_t uploads() const { return uploads_; }
  bool has(const std::string& key) const { return entries_.count(key) > 0; }

 private:
  struct Entry {
    std::intptr_t id = 0;
    std::uint64_t version = ~0ULL;
    int width = 0, height = 0;
  };
  std::map<std::string, Entry> entries_;
  std::intptr_t next_ = 0;
  std::size_t uploads_ = 0;
};

}  // namespace ijepa::gui
