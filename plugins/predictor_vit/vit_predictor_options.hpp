#pragma once
// Options of the `vit_predictor` predictor (spec §5).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace ijepa::plugins::vit {

struct VitPredictorOptions {
  std::int64_t embed_dim = 384;  // predictor width D_p (divisible by 4 and by the heads)
  std::int64_t depth = 6;        // predictor blocks
  std::int64_t num_heads = 0;    // 0 = the encoder's heads (BuildContext::encoder_heads)
  double mlp_ratio = 4.0;        // MLP hidden = int(D_p * mlp_ratio)
  std::int64_t output_dim = 0;   // 0 = the encoder width (BuildContext::encoder_dim)
  std::string attention = "auto";  // "auto" | "sdpa" | "explicit": the attention kernel (same function)
  std::string linear = "auto";     // "auto" | "aten": the linear layers' kernel (same function)

  // from_json(cfg) -> options; missing or null keys keep their defaults; throws std::invalid_argument (one line).
  static VitPredictorOptions from_json(const nlohmann::json& cfg);
  static nlohmann::json defaults();  // every accepted key with its default
  static nlohmann::json doc();       // one line per key of defaults()
  nlohmann::json to_json() const;
};

}  // namespace ijepa::plugins::vit
