#include "ijepa/host/dist/grad_reducer.hpp"

#include <ATen/ATen.h>

namespace ijepa::host {

GradReducer::GradReducer(std::shared_ptr<ProcessGroup> pg, std::vector<at::Tensor> params, std::int64_t bucket_bytes)
    : pg_(std::move(pg)),
      params_(std::move(params)),
      bucket_of_(params_.size()),
      offset_of_(params_.size()),
      seen_(params_.size(), 0) {
  // Reverse order: backward produces the last layers' gradients first.
  std::int64_t bytes = 0;
  for (std::size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    const bool split = !buckets_.empty() &&
                       (bytes >= bucket_bytes || params_[buckets_.back().params.front()].scalar_type() != p.scalar_type() ||
                        params_[buckets_.back().params.front()].device() != p.device());
    if (buckets_.empty() || split) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    b.params.push_back(k);
    bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
    bucket_of_[k] = buckets_.size() - 1;
  }
  for (Bucket& b : buckets_) {
    std::int64_t n = 0;
    for (std::size_t k : b.params) {
      offset_of_[k] = n;
      n += params_[k].numel();
    }
    const at::Tensor& p0 = params_[b.params.front()];
    b.flat = at::zeros({n}, p0.options().requires_grad(false));
  }
  for (std::size_t k = 0; k < params_.size(); ++k) {
    params_[k].register_hook([this, k](const at::Tensor& grad) { on_grad(k, grad); });
  }
}

void GradReducer::prepare() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Bucket& b : buckets_) {
    b.pending = b.params.size();
    b.ready = false;
    b.work.reset();
  }
  std::fill(seen_.begin(), seen_.end(), 0);
  next_launch_ = 0;
  launched_in_backward_ = 0;
  active_ = true;
}

void GradReducer::launch_ready_locked() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready) {
    Bucket& b = buckets_[next_launch_];
    b.work = pg_->allreduce_sum_async(b.flat);
    ++next_launch_;
  }
}

void GradReducer::on_grad(std::size_t k, const at::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_ || seen_[k]) return;  // outside a reduced step, or already counted
  seen_[k] = 1;
  Bucket& b = buckets_[bucket_of_[k]];
  at::Tensor dst = b.flat.narrow(0, offset_of_[k], params_[k].numel());
  dst.copy_(grad.detach().reshape({-1}));
  // Gradient accumulation (train.accum_steps): earlier micro-batches' gradients sit in .grad (the hook runs before
  // this backward adds to it); the reduced value is their sum with this one.
  if (params_[k].grad().defined()) dst.add_(params_[k].grad().detach().reshape({-1}));
  if (--b.pending == 0) {
    b.ready = true;
    const std::size_t before = next_launch_;
    launch_ready_locked();
    launched_in_backward_ += next_launch_ - before;
  }
}

void GradReducer::finish() {
  std::unique_lock<std::mutex> lock(mu_);
  active_ = false;
  for (Bucket& b : buckets_) {
    if (b.ready) continue;
    for (std::size_t k : b.params) {
      if (!seen_[k]) b.flat.narrow(0, offset_of_[k], params_[k].numel()).zero_();
    }
    b.ready = true;
  }
  launch_ready_locked();
  lock.unlock();
  const double inv = 1.0 / static_cast<double>(pg_->world());
  at::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    pg_->wait(b.work, "gradient all-reduce");
    b.flat.mul_(inv);
    for (std::size_t k : b.params) {
      at::Tensor& p = params_[k];
      const at::Tensor avg = b.flat.narrow(0, offset_of_[k], p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(avg);
      else p.mutable_grad() = avg.clone();
    }
  }
}

}  // namespace ijepa::host
