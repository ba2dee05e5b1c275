#include "vit_encoder_options.hpp"

#include <stdexcept>

#include "vit_attention.hpp"
#include "vit_linear.hpp"
#include "vit_options_common.hpp"
#include "vit_presets.hpp"
#include "vit_size.hpp"

namespace ijepa::plugins::vit {

namespace {
void require(bool ok, const std::string& msg) {
  if (!ok) throw std::invalid_argument(msg);
}
}  // namespace

VitEncoderOptions VitEncoderOptions::from_json(const nlohmann::json& cfg) {
  if (!cfg.is_object()) throw std::invalid_argument("vit encoder config must be a JSON object");
  VitEncoderOptions o;
  sdk::read_optional(cfg, "preset", o.preset);
  sdk::read_optional(cfg, "img_size", o.img_size);
  sdk::read_optional(cfg, "patch_size", o.patch_size);
  sdk::read_optional(cfg, "in_chans", o.in_chans);
  sdk::read_optional(cfg, "embed_dim", o.embed_dim);
  sdk::read_optional(cfg, "depth", o.depth);
  sdk::read_optional(cfg, "num_heads", o.num_heads);
  sdk::read_optional(cfg, "mlp_ratio", o.mlp_ratio);
  sdk::read_optional(cfg, "attention", o.attention);
  sdk::read_optional(cfg, "linear", o.linear);
  o.validate();
  return o;
}

nlohmann::json VitEncoderOptions::defaults() { return VitEncoderOptions{}.to_json(); }

nlohmann::json VitEncoderOptions::doc() {
  return {{"preset", "model size: vit_tiny, vit_small, vit_base, vit_large, vit_huge or vit_giant (spec 3.1)"},
          {"img_size", "square input side in pixels (authoritative over the host's image size)"},
          {"patch_size", "patch side in pixels; must divide img_size"},
          {"in_chans", "input image channels"},
          {"embed_dim", "width D; 0 or null = from the preset (must be divisible by 4 and by num_heads)"},
          {"depth", "number of transformer blocks; 0 or null = from the preset"},
          {"num_heads", "attention heads; 0 or null = from the preset"},
          {"mlp_ratio", "MLP hidden width = int(D * mlp_ratio); 0 or null = from the preset"},
          {"attention", kAttentionDoc},
          {"linear", kLinearDoc}};
}

nlohmann::json VitEncoderOptions::to_json() const {
  return {{"preset", preset},       {"img_size", img_size}, {"patch_size", patch_size},
          {"in_chans", in_chans},   {"embed_dim", embed_dim}, {"depth", depth},
          {"num_heads", num_heads}, {"mlp_ratio", mlp_ratio}, {"attention", attention},
          {"linear", linear}};
}

VitEncoderOptions VitEncoderOptions::resolved() const {
  const VitPreset& p = find_preset(preset);
  VitEncoderOptions r = *this;
  if (r.embed_dim == 0) r.embed_dim = p.embed_dim;
  if (r.depth == 0) r.depth = p.depth;
  if (r.num_heads == 0) r.num_heads = p.num_heads;
  if (r.mlp_ratio == 0.0) r.mlp_ratio = p.mlp_ratio;
  return r;
}

void VitEncoderOptions::validate() const {
  parse_attention_kernel(attention);
  parse_linear_kernel(linear);
  const VitEncoderOptions r = resolved();
  require(r.img_size > 0, "key 'img_size': must be > 0, got " + std::to_string(r.img_size));
  require(r.patch_size > 0, "key 'patch_size': must be > 0, got " + std::to_string(r.patch_size));
  require(r.img_size % r.patch_size == 0, "key 'patch_size': " + std::to_string(r.patch_size) +
                                              " does not divide img_size " + std::to_string(r.img_size));
  require(r.in_chans > 0, "key 'in_chans': must be > 0, got " + std::to_string(r.in_chans));
  require(r.embed_dim > 0, "key 'embed_dim': must be >= 0, got " + std::to_string(embed_dim));
  require(r.depth > 0, "key 'depth': must be >= 0, got " + std::to_string(depth));
  require(r.num_heads > 0, "key 'num_heads': must be >= 0, got " + std::to_string(num_heads));
  require(r.mlp_ratio > 0.0, "key 'mlp_ratio': must be >= 0, got " + std::to_string(mlp_ratio));
  require(r.embed_dim % 4 == 0, "key 'embed_dim': " + std::to_string(r.embed_dim) +
                                    " must be divisible by 4 (2-D sin-cos position embedding)");
  require(r.embed_dim % r.num_heads == 0, "key 'num_heads': " + std::to_string(r.num_heads) +
                                              " does not divide embed_dim " + std::to_string(r.embed_dim));
  const double d = static_cast<double>(r.embed_dim), side = static_cast<double>(r.img_size / r.patch_size),
               p = static_cast<double>(r.patch_size);
  const std::string big = too_large("encoder", vit_parameters(d, static_cast<double>(r.depth), r.mlp_ratio, side * side,
                                                              static_cast<double>(r.in_chans) * p * p * d + d),
                                    "keys 'depth', 'embed_dim', 'mlp_ratio', 'img_size'");
  require(big.empty(), big);
}

std::string context_mismatch(const VitEncoderOptions& opts, const sdk::BuildContext& ctx) {
  std::string msg;
  auto note = [&](const char* what, std::int64_t host, std::int64_t mine) {
    if (host != 0 && host != mine)
      msg += std::string(msg.empty() ? "" : "; ") + what + " " + std::to_string(host) + " (host) vs " +
             std::to_string(mine) + " (plugin config, used)";
  };
  note("image_size", ctx.image_size, opts.img_size);
  note("patch_size", ctx.patch_size, opts.patch_size);
  note("in_chans", ctx.in_chans, opts.in_chans);
  note("grid.h", ctx.grid.h, opts.grid().h);
  note("grid.w", ctx.grid.w, opts.grid().w);
  return msg;
}

}  // namespace ijepa::plugins::vit
