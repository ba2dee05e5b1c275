#include "ijepa/host/config/loader_config.hpp"

#include <algorithm>
#include <cstdint>

#include "ijepa/host/util/errors.hpp"

namespace ijepa::host {

namespace {
constexpr std::int64_t kMaxWorkers = 256;
}  // namespace

DataLoaderOptions loader_options(const nlohmann::json& cfg, int rank, int world, bool pin_memory) {
  const auto& data = cfg.at("data");
  DataLoaderOptions lo;
  lo.batch_size = cfg.at("train").at("batch_size").get<std::int64_t>();
  lo.image_size = data.at("image_size").get<std::int64_t>();
  const auto& cs = data.at("crop_scale");
  if (!cs.is_array() || cs.size() != 2 || !cs[0].is_number() || !cs[1].is_number())
    throw ConfigError("data.crop_scale: expected [lo, hi], got " + cs.dump());
  lo.crop_scale_lo = cs[0].get<double>();
  lo.crop_scale_hi = cs[1].get<double>();
  if (!(0 < lo.crop_scale_lo && lo.crop_scale_lo <= lo.crop_scale_hi && lo.crop_scale_hi <= 1.0))
    throw ConfigError("data.crop_scale: expected 0 < lo <= hi <= 1, got " + cs.dump());
  lo.hflip = data.at("hflip").get<bool>();
  lo.seed = cfg.at("seed").get<std::uint64_t>();
  const auto workers = data.at("workers").get<std::int64_t>();
  if (workers < 0 || workers > kMaxWorkers) {
    throw ConfigError("data.workers: expected 0.." + std::to_string(kMaxWorkers) + " loader threads, got " +
                      std::to_string(workers));
  }
  lo.workers = std::max<std::int64_t>(1, workers);  // 0: one
  lo.limit = data.at("limit").get<std::int64_t>();
  lo.pin_memory = pin_memory;
  lo.rank = rank;
  lo.world = world;
  return lo;
}

}  // namespace ijepa::host
