#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/data/mask_check.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <numeric>
#include <stdexcept>
#include <system_error>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "ijepa/host/data/rng.hpp"
#include "ijepa/host/data/transforms.hpp"
#include "ijepa/host/log/logging.hpp"

namespace ijepa::host {

// Reused batch buffers. A batch (e.g. 64x3x224x224 float = 38.5 MB) is above glibc's mmap threshold, so a fresh
// allocation per batch is paid in page faults and zeroing; buffers come back here when the last tensor using
// them dies (the pool outlives them through the deleter's shared_ptr).
class BatchBufferPool : public std::enable_shared_from_this<BatchBufferPool> {
 public:
  BatchBufferPool(std::size_t bytes, std::size_t keep) : bytes_(bytes), keep_(keep) {}
  ~BatchBufferPool() {
    for (void* p : free_) std::free(p);
  }
  BatchBufferPool(const BatchBufferPool&) = delete;
  BatchBufferPool& operator=(const BatchBufferPool&) = delete;

  at::Tensor make(at::IntArrayRef sizes) {
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        p = free_.back();
        free_.pop_back();
      }
    }
    if (p == nullptr) p = std::aligned_alloc(64, (bytes_ + 63) / 64 * 64);
    if (p == nullptr) throw std::bad_alloc();
    auto self = shared_from_this();
    return at::from_blob(p, sizes, [self](void* q) { self->give_back(q); }, at::TensorOptions().dtype(at::kFloat));
  }

 private:
  void give_back(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < keep_) {
      free_.push_back(p);
    } else {
      std::free(p);
    }
  }
  std::size_t bytes_, keep_;
  std::mutex mu_;
  std::vector<void*> free_;
};

Loader::Loader(std::shared_ptr<const Dataset> data, std::shared_ptr<sdk::Masker> masker, DataLoaderOptions opts,
               std::int64_t start_step)
    : data_(std::move(data)), masker_(std::move(masker)), opts_(opts), start_step_(start_step), next_step_(start_step) {
  images_pool_ = std::make_shared<BatchBufferPool>(
      static_cast<std::size_t>(opts_.batch_size * 3 * opts_.image_size * opts_.image_size) * sizeof(float),
      static_cast<std::size_t>(std::max<std::int64_t>(opts_.prefetch, opts_.workers) + 4));
  n_ = data_->size();
  if (opts_.limit > 0) n_ = std::min(n_, opts_.limit);
  if (opts_.world < 1 || opts_.rank < 0 || opts_.rank >= opts_.world) throw DataError("loader: bad rank/world");
  if (opts_.batch_size < 1) throw DataError("loader: batch_size must be >= 1");
  ipe_ = steps_for(data_->size(), opts_);
  if (ipe_ < 1) {
    throw DataError("data: " + std::to_string(n_) + " images are fewer than one batch of " +
                    std::to_string(opts_.batch_size) + " per rank (train.batch_size)");
  }
  const std::int64_t w = std::max<std::int64_t>(1, opts_.workers);
  for (std::int64_t i = 0; i < w; ++i) {
    try {
      threads_.emplace_back([this, i] { worker(i); });
    } catch (const std::exception& e) {  // std::system_error from pthread_create, or std::bad_alloc
      // Out of threads or memory for a stack: stop the workers already started, then say which key to lower.
      stop_workers();
      throw DataError("loader: cannot start worker thread " + std::to_string(i + 1) + " of " + std::to_string(w) +
                      " (data.workers): " + e.what());
    }
  }
}

std::int64_t Loader::steps_for(std::int64_t dataset_size, const DataLoaderOptions& opts) {
  const std::int64_t n = opts.limit > 0 ? std::min(dataset_size, opts.limit) : dataset_size;
  const std::int64_t world = std::max<std::int64_t>(1, opts.world), batch = std::max<std::int64_t>(1, opts.batch_size);
  if (opts.drop_last) return (n / world) / batch;
  const std::int64_t per_rank = (n + world - 1) / world;
  return (per_rank + batch - 1) / batch;
}

Loader::~Loader() { stop_workers(); }

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::shared_ptr<const std::vector<std::int64_t>> Loader::shard_ref(std::int64_t epoch) const {
  {
    std::lock_guard<std::mutex> lock(perm_mu_);
    auto it = shard_cache_.find(epoch);
    if (it != shard_cache_.end()) return it->second;
  }
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n_));
  std::iota(perm.begin(), perm.end(), 0);
  SampleRng rng(mix_seed(opts_.seed, static_cast<std::uint64_t>(epoch), 0x5u));
  for (std::int64_t i = n_ - 1; i > 0; --i) std::swap(perm[i], perm[rng.integer(0, i)]);  // Fisher-Yates
  // rank's shard: every world-th index (DistributedSampler order); without drop_last the permutation is padded
  // with its own start to a multiple of world.
  const std::int64_t total = opts_.drop_last ? n_ : (n_ + opts_.world - 1) / opts_.world * opts_.world;
  auto out = std::make_shared<std::vector<std::int64_t>>();
  out->reserve(static_cast<std::size_t>(total / opts_.world + 1));
  for (std::int64_t i = opts_.rank; i < total; i += opts_.world) out->push_back(perm[static_cast<std::size_t>(i % n_)]);
  std::lock_guard<std::mutex> lock(perm_mu_);
  auto inserted = shard_cache_.emplace(epoch, std::move(out)).first->second;  // another worker may have won
  while (shard_cache_.size() > 3) shard_cache_.erase(shard_cache_.begin());
  return inserted;
}

std::vector<std::int64_t> Loader::shard(std::int64_t epoch) const { return *shard_ref(epoch); }

SkipStats Loader::skip_stats() const {
  std::lock_guard<std::mutex> lock(skip_mu_);
  return SkipStats{skipped_.load(), static_cast<std::int64_t>(bad_.size())};
}

std::int64_t Loader::skipped_in_epoch(std::int64_t epoch) const {
  std::lock_guard<std::mutex> lock(skip_mu_);
  auto it = epoch_skips_.find(epoch);
  return it == epoch_skips_.end() ? 0 : it->second;
}

void Loader::record_failure(std::int64_t index, const std::string& what) const {
  constexpr std::int64_t kLogged = 5;
  std::lock_guard<std::mutex> lock(skip_mu_);
  if (!bad_.insert(index).second) return;
  if (logged_ < kLogged) {
    logging::warn("data: skipping unusable image " + std::to_string(index) + " (replaced by the next usable image): " +
                  what);
    if (++logged_ == kLogged) logging::warn("data: further unusable images are counted, not logged");
  }
}

CroppedImage Loader::load(const std::vector<std::int64_t>& idx, std::size_t k, std::int64_t epoch,
                          std::uint64_t seed, bool* flip, bool* replaced) const {
  const std::size_t n = idx.size();
  std::string first_error;
  for (std::size_t t = 0; t < n; ++t) {
    const std::int64_t index = idx[(k + t) % n];
    {
      std::lock_guard<std::mutex> lock(skip_mu_);
      if (bad_.count(index) != 0) continue;
    }
    try {
      bool fl = false;
      // The plan's draws depend only on (seed, epoch, the slot's own index), never on the decode scale or on which
      // image finally fills the slot.
      const CropPlan plan = [&](std::int64_t h, std::int64_t w) {
        SampleRng rng(seed);
        const CropBox box = random_resized_crop_box(h, w, opts_.crop_scale_lo, opts_.crop_scale_hi, 3.0 / 4.0,
                                                    4.0 / 3.0, rng);
        fl = opts_.hflip && rng.uniform() < 0.5;
        return box;
      };
      CroppedImage c = data_->get_cropped(index, plan, opts_.image_size);
      if (t > 0) {
        skipped_.fetch_add(1);
        std::lock_guard<std::mutex> lock(skip_mu_);
        ++epoch_skips_[epoch];
      }
      *flip = fl;
      *replaced = t > 0;
      return c;
    } catch (const DataError& e) {
      if (first_error.empty()) first_error = e.what();
      record_failure(index, e.what());
    }
  }
  throw DataError("data: no usable image in " + data_->describe() + ": all " + std::to_string(n) +
                  " images of rank " + std::to_string(opts_.rank) + "'s shard failed to load" +
                  (first_error.empty() ? std::string() : " (e.g. " + first_error + ")"));
}

Batch Loader::make_batch(std::int64_t step) const {
  Batch b;
  b.step = step;
  b.epoch = step / ipe_;
  const std::int64_t pos = step % ipe_;
  const auto shard_indices = shard_ref(b.epoch);  // computed once per epoch, shared by the workers
  const std::vector<std::int64_t>& idx = *shard_indices;
  const std::int64_t S = opts_.image_size;
  const std::int64_t B = std::min(opts_.batch_size, static_cast<std::int64_t>(idx.size()) - pos * opts_.batch_size);
  auto opts = at::TensorOptions().dtype(at::kFloat);
  if (opts_.pin_memory && at::globalContext().hasCUDA()) opts = opts.pinned_memory(true);
  if (!opts.pinned_memory() && B == opts_.batch_size) {
    b.images = images_pool_->make({B, 3, S, S});
  } else {
    b.images = at::empty({B, 3, S, S}, opts);
  }
  b.labels = at::empty({B}, at::kLong);
  auto* labels = b.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < B; ++i) {
    const auto k = static_cast<std::size_t>(pos * opts_.batch_size + i);
    const std::uint64_t seed = mix_seed(opts_.seed, static_cast<std::uint64_t>(b.epoch), static_cast<std::uint64_t>(idx[k]));
    bool flip = false, replaced = false;
    const CroppedImage img = load(idx, k, b.epoch, seed, &flip, &replaced);
    b.replaced += replaced ? 1 : 0;
    crop_resize_normalize_into(img.pixels, img.box, S, flip, b.images[i]);
    labels[i] = img.label;
  }
  if (masker_) {
    try {
      b.masks = masker_->sample(B, static_cast<std::uint64_t>(step));
      if (opts_.num_patches > 0) {
        if (const std::string p = mask_set_problem(b.masks, B, opts_.num_patches); !p.empty()) {
          throw std::runtime_error(p);  // the loader names the step, the catch below the masker
        }
      }
      if (opts.pinned_memory()) {  // index tensors too, so their copies to the GPU do not block the host either
        for (auto* set : {&b.masks.context, &b.masks.target}) {
          for (at::Tensor& m : *set) m = m.pin_memory();
        }
      }
    } catch (const std::exception& e) {
      throw DataError(opts_.masker_tag + ": " + e.what());
    }
  }
  return b;
}

void Loader::worker(std::int64_t id) {
  const std::int64_t w = std::max<std::int64_t>(1, opts_.workers);
  // One intra-op thread per worker (like PyTorch's DataLoader workers): the trainer keeps the cores.
  at::set_num_threads(1);
  // Worker `id` owns steps start + id, start + id + w, ... (fixed at construction, not read from the consumer).
  for (std::int64_t step = start_step_ + id;; step += w) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || step < next_step_ + std::max(opts_.prefetch, w); });
      if (stop_) return;
    }
    try {
      Batch b = make_batch(step);
      std::lock_guard<std::mutex> lock(mu_);
      ready_.emplace(step, std::move(b));
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      errors_.emplace(step, e.what());
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      errors_.emplace(step, "unknown error");
    }
    cv_.notify_all();
  }
}

Batch Loader::next() {
  std::unique_lock<std::mutex> lock(mu_);
  const std::int64_t step = next_step_;
  cv_.wait(lock, [&] { return ready_.count(step) != 0 || errors_.count(step) != 0; });
  if (auto e = errors_.find(step); e != errors_.end()) {
    throw DataError("loader, batch " + std::to_string(step) + ": " + e->second);
  }
  Batch b = std::move(ready_.at(step));
  ready_.erase(step);
  ++next_step_;
  lock.unlock();
  cv_.notify_all();
  if ((step + 1) % ipe_ == 0) {  // every batch of this epoch has been made: its skip count is final
    const std::int64_t epoch = step / ipe_;
    std::int64_t n = 0, distinct = 0;
    {
      std::lock_guard<std::mutex> skip_lock(skip_mu_);
      if (auto it = epoch_skips_.find(epoch); it != epoch_skips_.end()) n = it->second;
      distinct = static_cast<std::int64_t>(bad_.size());
      while (!epoch_skips_.empty() && epoch_skips_.begin()->first < epoch - 2) epoch_skips_.erase(epoch_skips_.begin());
    }
    if (n > 0) {
      logging::warn("data: epoch " + std::to_string(epoch) + ": " + std::to_string(n) +
                    " unusable images replaced by the next usable ones (" + std::to_string(distinct) +
                    " distinct unusable images so far) in " + data_->describe());
    }
  }
  return b;
}

}  // namespace ijepa::host
