#pragma once
// The data side of a run: the training split, the masker (its only user is the loader, so it lives here) and the
// loader, all from the resolved config through the one config->loader mapping (config/loader_config.hpp).
#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

// make_rank_masker(resolved, registry, rank) -> components.masker built for `rank`: rank 0 keeps the run seed (a
// single process is rank 0 of one), rank r > 0 gets a seed derived from the run seed and r, so every rank samples
// its own masks.
Component<sdk::Masker> make_rank_masker(const nlohmann::json& resolved, const Registry& registry, int rank);

class TrainingData {
 public:
  // Opens data.source's train split and builds the rank's masker. ConfigError when a rank's share of the data is
  // smaller than one batch.
  TrainingData(const nlohmann::json& resolved, const Registry& registry, int rank, int world, bool pin_memory);

  // Optimiser steps per epoch: the loader's micro-batches per epoch / train.accum_steps (a remainder is skipped).
  std::int64_t steps_per_epoch() const { return ipe_; }
  std::int64_t accum_steps() const { return accum_; }
  std::int64_t images_per_step() const { return options_.batch_size * options_.world * accum_; }  // over all ranks
  const DataLoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return *dataset_; }
  const Component<sdk::Masker>& masker() const { return masker_; }

  // start(step) -> the loader's workers, from optimiser step `step` on (resume). The loader lives until stop() or
  // destruction.
  Loader& start(std::int64_t step);
  // next(step) -> the accum_steps micro-batches of optimiser step `step` (steps are taken in order).
  std::vector<Batch> next(std::int64_t step);
  // The loader's index of the first micro-batch of optimiser step `step`.
  std::int64_t micro_index(std::int64_t step) const { return (step / ipe_) * micro_ipe_ + (step % ipe_) * accum_; }
  Loader* loader() { return loader_.get(); }
  // Slots of the batches next() returned that the loader filled with a replacement for an unusable image (the
  // loader's own count includes batches it prepared ahead that no step used).
  std::int64_t images_replaced() const { return replaced_; }
  void stop() { loader_.reset(); }  // joins the workers

 private:
  std::shared_ptr<Dataset> dataset_;
  Component<sdk::Masker> masker_;
  DataLoaderOptions options_;
  std::int64_t ipe_ = 0, micro_ipe_ = 0, accum_ = 1, next_micro_ = 0, replaced_ = 0;
  std::unique_ptr<Loader> loader_;
};

}  // namespace ijepa::host
