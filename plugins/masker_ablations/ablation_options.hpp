#pragma once
// Options of the three masking-strategy ablation maskers (paper Table 6), each with from_json/to_json, its
// defaults (the schema the host checks user keys against) and one documentation line per key.
#include <cstdint>
#include <utility>

#include <nlohmann/json.hpp>

namespace ijepa::plugins::masker_ablations {

// `random`: Table 6 "Random(0.6) / 1 target / context = complement".
struct RandomOptions {
  double ratio = 0.6;        // target = round(ratio * N) random patches of each image, in (0, 1)
  std::int64_t min_keep = 4;  // target and context each keep strictly more patches than this

  static RandomOptions from_json(const nlohmann::json& cfg);  // std::invalid_argument naming the key
  nlohmann::json to_json() const;
  static nlohmann::json default_config();
  static nlohmann::json doc();
};

// `block`: Table 6 "Block(0.6) / 1 target / context = complement".
struct BlockOptions {
  double scale = 0.6;                                // target block area fraction of the grid, in (0, 1)
  std::pair<double, double> aspect_ratio{0.75, 1.5};  // target block height/width range, each > 0
  std::int64_t min_keep = 4;                         // target and context each keep strictly more patches than this

  static BlockOptions from_json(const nlohmann::json& cfg);
  nlohmann::json to_json() const;
  static nlohmann::json default_config();
  static nlohmann::json doc();
};

// `rasterized`: Table 6 "quadrant / 3 targets / context = complement (1 quadrant)".
struct RasterizedOptions {
  std::int64_t context_quadrant = -1;  // -1: a random quadrant per image; 0 TL, 1 TR, 2 BL, 3 BR: always that one
  std::int64_t min_keep = 4;           // a quadrant must hold strictly more patches than this

  static RasterizedOptions from_json(const nlohmann::json& cfg);
  nlohmann::json to_json() const;
  static nlohmann::json default_config();
  static nlohmann::json doc();
};

}  // namespace ijepa::plugins::masker_ablations
