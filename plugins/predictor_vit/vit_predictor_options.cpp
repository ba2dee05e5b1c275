#include "vit_predictor_options.hpp"

#include <stdexcept>
#include <string>

#include "vit_attention.hpp"
#include "vit_linear.hpp"
#include "vit_options_common.hpp"

namespace ijepa::plugins::vit {

VitPredictorOptions VitPredictorOptions::from_json(const nlohmann::json& cfg) {
  if (!cfg.is_object()) throw std::invalid_argument("vit_predictor config must be a JSON object");
  VitPredictorOptions o;
  sdk::read_optional(cfg, "embed_dim", o.embed_dim);
  sdk::read_optional(cfg, "depth", o.depth);
  sdk::read_optional(cfg, "num_heads", o.num_heads);
  sdk::read_optional(cfg, "mlp_ratio", o.mlp_ratio);
  sdk::read_optional(cfg, "output_dim", o.output_dim);
  sdk::read_optional(cfg, "attention", o.attention);
  sdk::read_optional(cfg, "linear", o.linear);
  parse_attention_kernel(o.attention);
  parse_linear_kernel(o.linear);
  if (o.embed_dim <= 0 || o.embed_dim % 4 != 0)
    throw std::invalid_argument("key 'embed_dim': must be > 0 and divisible by 4, got " + std::to_string(o.embed_dim));
  if (o.depth <= 0) throw std::invalid_argument("key 'depth': must be > 0, got " + std::to_string(o.depth));
  if (o.num_heads < 0) throw std::invalid_argument("key 'num_heads': must be >= 0, got " + std::to_string(o.num_heads));
  if (!(o.mlp_ratio > 0.0)) throw std::invalid_argument("key 'mlp_ratio': must be > 0, got " + std::to_string(o.mlp_ratio));
  if (o.output_dim < 0) throw std::invalid_argument("key 'output_dim': must be >= 0, got " + std::to_string(o.output_dim));
  return o;
}

nlohmann::json VitPredictorOptions::defaults() { return VitPredictorOptions{}.to_json(); }

nlohmann::json VitPredictorOptions::doc() {
  return {{"embed_dim", "predictor width D_p (pred_emb_dim); divisible by 4 and by num_heads"},
          {"depth", "predictor blocks (pred_depth)"},
          {"num_heads", "attention heads; 0 = the encoder's heads, as the reference"},
          {"mlp_ratio", "MLP hidden width = int(D_p * mlp_ratio)"},
          {"output_dim", "width of predictor_proj's output; 0 = the encoder width"},
          {"attention", kAttentionDoc},
          {"linear", kLinearDoc}};
}

nlohmann::json VitPredictorOptions::to_json() const {
  return {{"embed_dim", embed_dim}, {"depth", depth}, {"num_heads", num_heads},
          {"mlp_ratio", mlp_ratio}, {"output_dim", output_dim}, {"attention", attention},
          {"linear", linear}};
}

}  // namespace ijepa::plugins::vit
