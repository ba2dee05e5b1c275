#include "vit_presets.hpp"

#include <array>
#include <stdexcept>

#include "vit_block.hpp"

namespace ijepa::plugins::vit {

namespace {
constexpr std::array<VitPreset, 6> kPresets{{
    {"vit_tiny", 192, 12, 3, 4.0},
    {"vit_small", 384, 12, 6, 4.0},
    {"vit_base", 768, 12, 12, 4.0},
    {"vit_large", 1024, 24, 16, 4.0},
    {"vit_huge", 1280, 32, 16, 4.0},
    {"vit_giant", 1408, 40, 16, 48.0 / 11.0},
}};
}  // namespace

const VitPreset& find_preset(const std::string& name) {
  for (const auto& p : kPresets) {
    if (name == p.name) return p;
  }
  std::string valid;
  for (const auto& p : kPresets) valid += std::string(valid.empty() ? "" : ", ") + p.name;
  throw std::invalid_argument("key 'preset': unknown ViT preset '" + name + "' (valid: " + valid + ")");
}

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const auto& p : kPresets) out.emplace_back(p.name);
  return out;
}

std::int64_t vit_block_parameter_count(std::int64_t dim, double mlp_ratio) {
  const std::int64_t hidden = mlp_hidden(dim, mlp_ratio);
  const std::int64_t norms = 2 * 2 * dim;
  const std::int64_t qkv = dim * 3 * dim + 3 * dim;
  const std::int64_t proj = dim * dim + dim;
  const std::int64_t mlp = dim * hidden + hidden + hidden * dim + dim;
  return norms + qkv + proj + mlp;
}

std::int64_t vit_encoder_parameter_count(std::int64_t embed_dim, std::int64_t depth, double mlp_ratio,
                                         std::int64_t patch_size, std::int64_t in_chans, std::int64_t num_patches,
                                         bool include_pos_embed) {
  const std::int64_t patch = in_chans * patch_size * patch_size * embed_dim + embed_dim;
  const std::int64_t norm = 2 * embed_dim;
  const std::int64_t pos = include_pos_embed ? num_patches * embed_dim : 0;
  return patch + depth * vit_block_parameter_count(embed_dim, mlp_ratio) + norm + pos;
}

}  // namespace ijepa::plugins::vit
