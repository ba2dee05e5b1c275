#include "ablation_options.hpp"

#include <sstream>
#include <stdexcept>
#include <string>

#include "ijepa/sdk/config.hpp"

namespace ijepa::plugins::masker_ablations {

namespace {

std::string num_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// A number strictly inside (0, 1).
double open_fraction(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it != cfg.end() && !it->is_number())
    throw std::invalid_argument(std::string("key '") + key + "': expected a number, got " + it->dump());
  const auto v = sdk::get<double>(cfg, key);
  if (!(v > 0.0 && v < 1.0))
    throw std::invalid_argument(std::string("key '") + key + "': must lie in (0, 1), got " + num_text(v));
  return v;
}

const char* kMinKeepDoc =
    "every mask keeps strictly more patches than this (>= 0); checked against the grid when the masker is built";

}  // namespace

// ---- random ----

RandomOptions RandomOptions::from_json(const nlohmann::json& cfg) {
  RandomOptions o;
  o.ratio = open_fraction(cfg, "ratio");
  o.min_keep = sdk::get_int_at_least(cfg, "min_keep", 0);
  return o;
}

nlohmann::json RandomOptions::to_json() const { return {{"ratio", ratio}, {"min_keep", min_keep}}; }

nlohmann::json RandomOptions::default_config() { return RandomOptions{}.to_json(); }

nlohmann::json RandomOptions::doc() {
  return {{"ratio",
           "target = round(ratio * N) patches drawn uniformly at random per image (one target mask); the context "
           "is the complement; in (0, 1) (paper Table 6: Random(0.6))"},
          {"min_keep", kMinKeepDoc}};
}

// ---- block ----

BlockOptions BlockOptions::from_json(const nlohmann::json& cfg) {
  BlockOptions o;
  o.scale = open_fraction(cfg, "scale");
  o.aspect_ratio = sdk::get_range(cfg, "aspect_ratio");
  if (!(o.aspect_ratio.first > 0.0))
    throw std::invalid_argument("key 'aspect_ratio': both bounds must be > 0, got [" + num_text(o.aspect_ratio.first) +
                                ", " + num_text(o.aspect_ratio.second) + "]");
  o.min_keep = sdk::get_int_at_least(cfg, "min_keep", 0);
  return o;
}

nlohmann::json BlockOptions::to_json() const {
  return {{"scale", scale}, {"aspect_ratio", {aspect_ratio.first, aspect_ratio.second}}, {"min_keep", min_keep}};
}

nlohmann::json BlockOptions::default_config() { return BlockOptions{}.to_json(); }

nlohmann::json BlockOptions::doc() {
  return {{"scale",
           "target block area as a fraction of the patch grid, in (0, 1); one block per image, the context is its "
           "complement (paper Table 6: Block(0.6))"},
          {"aspect_ratio", "[lo, hi] target block height/width, each > 0; one draw per batch as the multiblock sizes"},
          {"min_keep", kMinKeepDoc}};
}

// ---- rasterized ----

RasterizedOptions RasterizedOptions::from_json(const nlohmann::json& cfg) {
  RasterizedOptions o;
  o.context_quadrant = sdk::get_int_at_least(cfg, "context_quadrant", -1);
  if (o.context_quadrant > 3)
    throw std::invalid_argument("key 'context_quadrant': expected -1 (random per image) or 0..3, got " +
                                std::to_string(o.context_quadrant));
  o.min_keep = sdk::get_int_at_least(cfg, "min_keep", 0);
  return o;
}

nlohmann::json RasterizedOptions::to_json() const {
  return {{"context_quadrant", context_quadrant}, {"min_keep", min_keep}};
}

nlohmann::json RasterizedOptions::default_config() { return RasterizedOptions{}.to_json(); }

nlohmann::json RasterizedOptions::doc() {
  return {{"context_quadrant",
           "quadrant used as context: -1 = random per image, 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right; "
           "the other three are the 3 target masks (paper Table 6: rasterized)"},
          {"min_keep",
           "a quadrant (floor(H/2) x floor(W/2) patches) must hold strictly more patches than this (>= 0)"}};
}

}  // namespace ijepa::plugins::masker_ablations
