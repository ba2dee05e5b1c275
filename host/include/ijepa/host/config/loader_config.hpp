#pragma once
// The one mapping from an experiment's config to the loader's options, shared by `ijepa train` and both
// `ijepa bench` commands.
#include <nlohmann/json.hpp>

#include "ijepa/host/data/loader.hpp"

namespace ijepa::host {

// loader_options(cfg, rank, world, pin_memory) -> train.batch_size, data.image_size / crop_scale / hflip / workers /
// limit, the run seed, the rank's shard. ConfigError naming the key for a crop_scale that is not
// 0 < lo <= hi <= 1. (masker_tag stays generic: the caller that builds the masker names it.)
DataLoaderOptions loader_options(const nlohmann::json& cfg, int rank, int world, bool pin_memory);

}  // namespace ijepa::host
