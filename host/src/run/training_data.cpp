#include "ijepa/host/run/training_data.hpp"

#include <string>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/loader_config.hpp"
#include "ijepa/host/data/dataset.hpp"

namespace ijepa::host {

Component<sdk::Masker> make_rank_masker(const nlohmann::json& resolved, const Registry& registry, int rank) {
  sdk::BuildContext ctx = experiment_context(resolved);
  if (rank > 0) ctx.seed = ctx.seed + 0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(rank);
  try {
    return registry.make_masker(resolved.at("components").at("masker"), ctx, "components.masker");
  } catch (const ConfigError& e) {
    // Masks are drawn on the patch grid: say which one, and from which keys (the host defaults, 32 px images and
    // the official 16 px patches, make a 2x2 grid that the official min_keep cannot fit).
    throw ConfigError(std::string(e.what()) + " [patch grid " + std::to_string(ctx.grid.h) + "x" +
                      std::to_string(ctx.grid.w) + " = data.image_size " + std::to_string(ctx.image_size) +
                      " / components.encoder.patch_size " + std::to_string(ctx.patch_size) + "]");
  }
}

TrainingData::TrainingData(const nlohmann::json& resolved, const Registry& registry, int rank, int world,
                           bool pin_memory)
    : dataset_(open_dataset(resolved.at("data"), "train")),
      masker_(make_rank_masker(resolved, registry, rank)),
      options_(loader_options(resolved, rank, world, pin_memory)) {
  options_.masker_tag = "plugin " + masker_.plugin_id + ": " + masker_.type;
  options_.num_patches = experiment_context(resolved).grid.count();
  accum_ = resolved.at("train").at("accum_steps").get<std::int64_t>();
  if (accum_ < 1) throw ConfigError("train.accum_steps: must be >= 1, got " + std::to_string(accum_));
  micro_ipe_ = Loader::steps_for(dataset_->size(), options_);
  ipe_ = micro_ipe_ / accum_;
  const std::int64_t n = options_.limit > 0 ? std::min(options_.limit, dataset_->size()) : dataset_->size();
  if (micro_ipe_ < 1) {
    throw ConfigError("train.batch_size (" + std::to_string(options_.batch_size) + ") x " + std::to_string(world) +
                      " ranks is larger than the dataset (" + std::to_string(n) + " images)");
  }
  if (ipe_ < 1) {
    throw ConfigError("train.accum_steps (" + std::to_string(accum_) + ") micro-batches of train.batch_size (" +
                      std::to_string(options_.batch_size) + ") x " + std::to_string(world) +
                      " ranks are more than one epoch of the dataset (" + std::to_string(n) + " images)");
  }
}

Loader& TrainingData::start(std::int64_t step) {
  next_micro_ = micro_index(step);
  loader_ = std::make_unique<Loader>(dataset_, masker_.ptr, options_, next_micro_);
  return *loader_;
}

std::vector<Batch> TrainingData::next(std::int64_t step) {
  const std::int64_t first = micro_index(step);
  for (; next_micro_ < first; ++next_micro_) (void)loader_->next();  // an epoch's remainder of micro-batches
  std::vector<Batch> out;
  out.reserve(static_cast<std::size_t>(accum_));
  try {
    for (std::int64_t j = 0; j < accum_; ++j, ++next_micro_) {
      out.push_back(loader_->next());
      replaced_ += out.back().replaced;
    }
  } catch (const DataError& e) {  // the step as status.json's failed_step and the progress line count it (from 1)
    throw DataError("step " + std::to_string(step + 1) + ": " + e.what());
  }
  return out;
}

}  // namespace ijepa::host
