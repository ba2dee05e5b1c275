#pragma once
// MultiBlockOptions: the `multiblock` masker's config (official MaskCollator key names), with from_json/to_json.
#include <cstdint>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace ijepa::plugins::masker_multiblock {

enum class Variant { faithful, fixed };  // spec 2.6: faithful reproduces the reference, fixed removes its quirks

struct MultiBlockOptions {
  std::pair<double, double> enc_mask_scale{0.85, 1.0};   // context block area fraction, each in (0, 1]
  std::pair<double, double> pred_mask_scale{0.15, 0.2};  // target block area fraction, each in (0, 1]
  std::pair<double, double> aspect_ratio{0.75, 1.5};     // target h/w, each > 0 (the context uses 1)
  std::int64_t num_enc_masks = 1;                        // context blocks per image (nenc)
  std::int64_t num_pred_masks = 4;                       // target blocks per image (npred)
  std::int64_t min_keep = 10;                            // a mask keeps strictly more patches than this
  bool allow_overlap = false;                            // true: the context is not carved by the targets
  Variant variant = Variant::faithful;
  bool independent_scale_aspect = false;                 // two draws (scale, then aspect) per block size

  // from_json(cfg) -> options; std::invalid_argument with a one-line message naming the key on bad values.
  static MultiBlockOptions from_json(const nlohmann::json& cfg);
  nlohmann::json to_json() const;
  // Every accepted key with its default, and a one-line description of each.
  static nlohmann::json default_config();
  static nlohmann::json doc();
};

const char* variant_name(Variant v);
std::string range_text(const std::pair<double, double>& r);  // "[lo, hi]", for error messages

}  // namespace ijepa::plugins::masker_multiblock
