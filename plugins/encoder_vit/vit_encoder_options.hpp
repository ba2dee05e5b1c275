#pragma once
// Options of the `vit` encoder: a preset plus optional overrides, and the patch geometry.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/sdk/types.hpp"

namespace ijepa::plugins::vit {

struct VitEncoderOptions {
  std::string preset = "vit_tiny";  // "vit_tiny" ... "vit_giant" (spec §3.1)
  std::int64_t img_size = 224;      // square input side in pixels
  std::int64_t patch_size = 16;     // patch side in pixels; must divide img_size
  std::int64_t in_chans = 3;        // input channels
  std::int64_t embed_dim = 0;       // 0 = from the preset
  std::int64_t depth = 0;           // 0 = from the preset
  std::int64_t num_heads = 0;       // 0 = from the preset
  double mlp_ratio = 0.0;           // 0 = from the preset
  std::string attention = "auto";   // "auto" | "sdpa" | "explicit": the attention kernel (same function)
  std::string linear = "auto";      // "auto" | "aten": the linear layers' kernel (same function)

  // from_json(cfg) -> options; missing or null keys keep their defaults; throws std::invalid_argument (one line).
  static VitEncoderOptions from_json(const nlohmann::json& cfg);
  static nlohmann::json defaults();  // every accepted key with its default
  static nlohmann::json doc();       // one line per key of defaults()
  nlohmann::json to_json() const;

  // The preset with the overrides applied (all fields non-zero). Throws for an unknown preset.
  VitEncoderOptions resolved() const;
  // Throws std::invalid_argument (one line) unless the resolved options describe a valid model.
  void validate() const;
  sdk::PatchGrid grid() const { return {img_size / patch_size, img_size / patch_size}; }
};

// "" when the host's BuildContext agrees with the options (or leaves the fields 0), else a one-line note.
// The plugin config is authoritative; the factory only logs this.
std::string context_mismatch(const VitEncoderOptions& opts, const sdk::BuildContext& ctx);

}  // namespace ijepa::plugins::vit
