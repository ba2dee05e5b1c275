#pragma once
// Loader: worker threads build whole batches (crop, normalise, masks) ahead of the trainer, in step order.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/sdk/masker.hpp"

namespace ijepa::host {

struct Batch {
  std::int64_t step = 0;   // global step (0-based); also the masker's batch number
  std::int64_t epoch = 0;  // 0-based
  at::Tensor images;       // float32 [B, 3, S, S], normalised (B < batch_size only for the last step of an epoch
                           // without drop_last)
  at::Tensor labels;       // int64 [B]
  sdk::MaskSet masks;      // from the masker, sampled for this step
  std::int64_t replaced = 0;  // slots filled by the next usable image in place of an unusable one
};

struct DataLoaderOptions {
  std::int64_t batch_size = 64;
  std::int64_t image_size = 32;
  double crop_scale_lo = 0.3, crop_scale_hi = 1.0;
  bool hflip = false;
  std::uint64_t seed = 0;
  std::int64_t workers = 2;
  std::int64_t prefetch = 4;  // batches ready ahead of the consumer
  std::int64_t rank = 0, world = 1;
  std::int64_t limit = 0;  // first N images only (0: all)
  // true: every step has batch_size images; each rank takes every world-th image of the epoch permutation and the
  // remainder is dropped. false: DistributedSampler padding (the permutation repeats its start so every rank has
  // ceil(n / world) images) and the epoch's last step is smaller.
  bool drop_last = true;
  bool pin_memory = false;  // allocate images in pinned host memory when CUDA is available
  std::string masker_tag = "masker";  // names the masker plugin in errors ("plugin <id>: masker/<type>")
  std::int64_t num_patches = 0;  // > 0: each batch's masks are checked against the patch grid (mask_check.hpp)
};

// Images that failed to load (undecodable, unreadable, too small). Each is replaced by the next usable image of the
// rank's epoch order, so batch shapes and results stay deterministic.
struct SkipStats {
  std::int64_t skipped = 0;   // batch slots whose image failed and was replaced, over all batches made
  std::int64_t distinct = 0;  // different failing images seen
};

class BatchBufferPool;

class Loader {
 public:
  // masker may be null (no masks). start_step: first step to produce (resume).
  Loader(std::shared_ptr<const Dataset> data, std::shared_ptr<sdk::Masker> masker, DataLoaderOptions opts,
         std::int64_t start_step);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  std::int64_t steps_per_epoch() const { return ipe_; }
  // steps_for(dataset_size, opts) -> the steps per epoch a loader with these options makes (0 when a rank's share
  // is smaller than a batch): each rank takes every world-th image of the epoch's permutation (DistributedSampler).
  static std::int64_t steps_for(std::int64_t dataset_size, const DataLoaderOptions& opts);
  // next() -> the batch of the next step; rethrows a worker's error (tagged with the step).
  Batch next();
  // make_batch(step) -> the batch of any step, computed on the calling thread (deterministic).
  Batch make_batch(std::int64_t step) const;
  // shard(epoch) -> this rank's dataset indices for the epoch, in order (batch p holds positions p*B ... p*B+B-1).
  std::vector<std::int64_t> shard(std::int64_t epoch) const;
  // The same, cached per epoch and shared (the batch path uses it: no copy of the shard per batch).
  std::shared_ptr<const std::vector<std::int64_t>> shard_ref(std::int64_t epoch) const;
  // [thread-safe] Failed images so far; skipped_in_epoch(e): slots replaced in the batches of epoch e made so far.
  SkipStats skip_stats() const;
  std::int64_t skipped_in_epoch(std::int64_t epoch) const;

 private:
  void worker(std::int64_t id);
  void stop_workers();  // wakes and joins every started worker
  // Loads shard position k (or the next usable one after it), cropped with the plan seeded by `seed`.
  // *replaced: whether another image than position k's filled the slot.
  CroppedImage load(const std::vector<std::int64_t>& idx, std::size_t k, std::int64_t epoch, std::uint64_t seed,
                    bool* flip, bool* replaced) const;
  void record_failure(std::int64_t index, const std::string& what) const;

  std::shared_ptr<const Dataset> data_;
  std::shared_ptr<sdk::Masker> masker_;
  DataLoaderOptions opts_;
  std::int64_t n_ = 0, ipe_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::int64_t, Batch> ready_;
  std::map<std::int64_t, std::string> errors_;
  std::int64_t start_step_ = 0;  // first step produced
  std::int64_t next_step_ = 0;   // next step the consumer takes
  bool stop_ = false;
  std::vector<std::thread> threads_;
  mutable std::mutex perm_mu_;
  mutable std::map<std::int64_t, std::shared_ptr<const std::vector<std::int64_t>>> shard_cache_;  // last 3 epochs

  std::shared_ptr<BatchBufferPool> images_pool_;  // reused image buffers of full batches
  mutable std::atomic<std::int64_t> skipped_{0};
  mutable std::mutex skip_mu_;
  mutable std::set<std::int64_t> bad_;                      // indices known to fail
  mutable std::map<std::int64_t, std::int64_t> epoch_skips_;  // epoch -> slots replaced
  mutable std::int64_t logged_ = 0;
};

}  // namespace ijepa::host
