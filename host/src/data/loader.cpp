#include "data/loader.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "data/rng.hpp"
#include "data/transforms.hpp"

namespace ijepa::host {

Loader::Loader(std::shared_ptr<const Dataset> data, std::shared_ptr<sdk::Masker> masker, DataLoaderOptions opts,
               std::int64_t start_step)
    : data_(std::move(data)), masker_(std::move(masker)), opts_(opts), start_step_(start_step), next_step_(start_step) {
  n_ = data_->size();
  if (opts_.limit > 0) n_ = std::min(n_, opts_.limit);
  if (opts_.world < 1 || opts_.rank < 0 || opts_.rank >= opts_.world) throw DataError("loader: bad rank/world");
  ipe_ = (n_ / opts_.world) / opts_.batch_size;  // drop_last
  if (ipe_ < 1) {
    throw DataError("data: " + std::to_string(n_) + " images are fewer than one batch of " +
                    std::to_string(opts_.batch_size) + " per rank (train.batch_size)");
  }
  const std::int64_t w = std::max<std::int64_t>(1, opts_.workers);
  for (std::int64_t i = 0; i < w; ++i) threads_.emplace_back([this, i] { worker(i); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

std::vector<std::int64_t> Loader::epoch_indices(std::int64_t epoch) const {
  std::shared_ptr<std::vector<std::int64_t>> perm;
  {
    std::lock_guard<std::mutex> lock(perm_mu_);
    auto it = perm_cache_.find(epoch);
    if (it != perm_cache_.end()) perm = it->second;
  }
  if (!perm) {
    perm = std::make_shared<std::vector<std::int64_t>>(static_cast<std::size_t>(n_));
    std::iota(perm->begin(), perm->end(), 0);
    SampleRng rng(mix_seed(opts_.seed, static_cast<std::uint64_t>(epoch), 0x5u));
    for (std::int64_t i = n_ - 1; i > 0; --i) std::swap((*perm)[i], (*perm)[rng.integer(0, i)]);  // Fisher-Yates
    std::lock_guard<std::mutex> lock(perm_mu_);
    perm_cache_[epoch] = perm;
    while (perm_cache_.size() > 3) perm_cache_.erase(perm_cache_.begin());
  }
  // rank's shard: every world-th index (DistributedSampler order)
  std::vector<std::int64_t> shard;
  for (std::int64_t i = opts_.rank; i < n_; i += opts_.world) shard.push_back((*perm)[static_cast<std::size_t>(i)]);
  return shard;
}

Batch Loader::make_batch(std::int64_t step) const {
  Batch b;
  b.step = step;
  b.epoch = step / ipe_;
  const std::int64_t pos = step % ipe_;
  const std::vector<std::int64_t> idx = epoch_indices(b.epoch);
  const std::int64_t B = opts_.batch_size, S = opts_.image_size;
  b.images = at::empty({B, 3, S, S}, at::kFloat);
  b.labels = at::empty({B}, at::kLong);
  auto* labels = b.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < B; ++i) {
    const std::int64_t index = idx[static_cast<std::size_t>(pos * B + i)];
    Image img = data_->get(index);
    SampleRng rng(mix_seed(opts_.seed, static_cast<std::uint64_t>(b.epoch), static_cast<std::uint64_t>(index)));
    const CropBox box = random_resized_crop_box(img.pixels.size(0), img.pixels.size(1), opts_.crop_scale_lo,
                                                opts_.crop_scale_hi, 3.0 / 4.0, 4.0 / 3.0, rng);
    const bool flip = opts_.hflip && rng.uniform() < 0.5;
    b.images[i].copy_(crop_resize_normalize(img.pixels, box, S, flip));
    labels[i] = img.label;
  }
  if (masker_) {
    try {
      b.masks = masker_->sample(B, static_cast<std::uint64_t>(step));
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
    throw DataError("loader, step " + std::to_string(step) + ": " + e->second);
  }
  Batch b = std::move(ready_.at(step));
  ready_.erase(step);
  ++next_step_;
  lock.unlock();
  cv_.notify_all();
  return b;
}

}  // namespace ijepa::host
