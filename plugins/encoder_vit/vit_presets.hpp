#pragma once
// ViT size presets (spec §3.1) and the analytic parameter count of the encoder.
#include <cstdint>
#include <string>
#include <vector>

namespace ijepa::plugins::vit {

struct VitPreset {
  const char* name;       // "vit_tiny" ... "vit_giant"
  std::int64_t embed_dim;  // D
  std::int64_t depth;      // blocks
  std::int64_t num_heads;  // heads
  double mlp_ratio;        // MLP hidden = int(D * mlp_ratio)
};

// find_preset(name) -> the preset; throws std::invalid_argument listing the valid names.
const VitPreset& find_preset(const std::string& name);
// All preset names, smallest first.
std::vector<std::string> preset_names();

// Number of encoder parameters: patch embed, blocks, final norm, plus the fixed pos-embed when asked.
std::int64_t vit_encoder_parameter_count(std::int64_t embed_dim, std::int64_t depth, double mlp_ratio,
                                         std::int64_t patch_size, std::int64_t in_chans, std::int64_t num_patches,
                                         bool include_pos_embed);

// Number of parameters of one pre-norm block of width dim.
std::int64_t vit_block_parameter_count(std::int64_t dim, double mlp_ratio);

}  // namespace ijepa::plugins::vit
