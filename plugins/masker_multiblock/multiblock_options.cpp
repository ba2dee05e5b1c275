#include "multiblock_options.hpp"

#include <sstream>
#include <stdexcept>

#include "ijepa/sdk/config.hpp"

namespace ijepa::plugins::masker_multiblock {

std::string range_text(const std::pair<double, double>& r) {
  std::ostringstream os;
  os << "[" << r.first << ", " << r.second << "]";
  return os.str();
}

namespace {

std::pair<double, double> scale_range(const nlohmann::json& cfg, const char* key) {
  auto r = sdk::get_range(cfg, key);
  if (!(r.first > 0.0 && r.first <= 1.0 && r.second > 0.0 && r.second <= 1.0))
    throw std::invalid_argument(std::string("key '") + key + "': both bounds must lie in (0, 1], got " +
                                range_text(r));
  return r;
}

}  // namespace

const char* variant_name(Variant v) { return v == Variant::fixed ? "fixed" : "faithful"; }

MultiBlockOptions MultiBlockOptions::from_json(const nlohmann::json& cfg) {
  MultiBlockOptions o;
  o.enc_mask_scale = scale_range(cfg, "enc_mask_scale");
  o.pred_mask_scale = scale_range(cfg, "pred_mask_scale");
  o.aspect_ratio = sdk::get_range(cfg, "aspect_ratio");
  if (!(o.aspect_ratio.first > 0.0))
    throw std::invalid_argument("key 'aspect_ratio': both bounds must be > 0, got " + range_text(o.aspect_ratio));
  o.num_enc_masks = sdk::get_int_at_least(cfg, "num_enc_masks", 1);
  o.num_pred_masks = sdk::get_int_at_least(cfg, "num_pred_masks", 1);
  o.min_keep = sdk::get_int_at_least(cfg, "min_keep", 0);
  o.allow_overlap = sdk::get<bool>(cfg, "allow_overlap");
  const auto variant = sdk::get<std::string>(cfg, "variant");
  if (variant == "faithful") {
    o.variant = Variant::faithful;
  } else if (variant == "fixed") {
    o.variant = Variant::fixed;
  } else {
    throw std::invalid_argument("key 'variant': expected \"faithful\" or \"fixed\", got \"" + variant + "\"");
  }
  o.independent_scale_aspect = sdk::get<bool>(cfg, "independent_scale_aspect");
  return o;
}

nlohmann::json MultiBlockOptions::to_json() const {
  return {{"enc_mask_scale", {enc_mask_scale.first, enc_mask_scale.second}},
          {"pred_mask_scale", {pred_mask_scale.first, pred_mask_scale.second}},
          {"aspect_ratio", {aspect_ratio.first, aspect_ratio.second}},
          {"num_enc_masks", num_enc_masks},
          {"num_pred_masks", num_pred_masks},
          {"min_keep", min_keep},
          {"allow_overlap", allow_overlap},
          {"variant", variant_name(variant)},
          {"independent_scale_aspect", independent_scale_aspect}};
}

nlohmann::json MultiBlockOptions::default_config() { return MultiBlockOptions{}.to_json(); }

nlohmann::json MultiBlockOptions::doc() {
  return {
      {"enc_mask_scale", "[lo, hi] context block area as a fraction of the patch grid, each in (0, 1]"},
      {"pred_mask_scale", "[lo, hi] target block area as a fraction of the patch grid, each in (0, 1]"},
      {"aspect_ratio", "[lo, hi] target block height/width, each > 0 (the context block is square-ish: 1)"},
      {"num_enc_masks", "context blocks per image (nenc, >= 1)"},
      {"num_pred_masks", "target blocks per image (npred, >= 1)"},
      {"min_keep", "every mask keeps strictly more patches than this (>= 0; must be below the smallest block)"},
      {"allow_overlap", "true: the context is not carved by the target blocks"},
      {"variant", "\"faithful\" (the official sampler, quirks included) or \"fixed\" (ijepa-spec.md 2.6)"},
      {"independent_scale_aspect", "draw block scale and aspect ratio from two draws instead of one (paper)"}};
}

}  // namespace ijepa::plugins::masker_multiblock
