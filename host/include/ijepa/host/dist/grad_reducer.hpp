#pragma once
// Gradient averaging across ranks in buckets, overlapped with the backward pass (the DDP scheme): parameters are
// grouped into buckets of about `bucket_bytes` in reverse order (the order backward produces their gradients); a
// hook on each parameter copies its gradient into the bucket's flat buffer, and a bucket whose gradients are all
// in starts its all-reduce at once — strictly in bucket order, so every rank issues the same collectives in the
// same order. finish() starts what is left (parameters without a gradient this step count as zeros), waits,
// divides by the world size and writes the averages into the parameters' .grad. With gradient accumulation, only
// the last micro-batch's backward is reduced (prepare() before it): each hook adds the gradient already accumulated
// in .grad to the incoming one.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ijepa/host/dist/process_group.hpp"

namespace ijepa::host {

class GradReducer {
 public:
  // params: the trainable parameters (all the same dtype and device per bucket is not required: buckets split where
  // dtype or device changes). Registers the hooks; keep the reducer alive as long as the parameters train.
  GradReducer(std::shared_ptr<ProcessGroup> pg, std::vector<at::Tensor> params, std::int64_t bucket_bytes);
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  void prepare();  // before backward
  void finish();   // after backward: every parameter's .grad is the mean over ranks
  std::size_t bucket_count() const { return buckets_.size(); }
  // How many buckets started their all-reduce during the last backward (before finish()).
  std::size_t launched_during_backward() const { return launched_in_backward_; }

 private:
  struct Bucket {
    std::vector<std::size_t> params;  // parameter indices; each at offset_of_[k] in flat
    at::Tensor flat;
    std::size_t pending = 0;
    bool ready = false;
    ProcessGroup::Handle work;
  };
  void on_grad(std::size_t param, const at::Tensor& grad);
  void launch_ready_locked();

  std::shared_ptr<ProcessGroup> pg_;
  std::vector<at::Tensor> params_;
  std::vector<std::size_t> bucket_of_;      // parameter -> its bucket
  std::vector<std::int64_t> offset_of_;     // parameter -> its offset in the bucket's flat buffer
  std::vector<char> seen_;
  std::vector<Bucket> buckets_;
  std::size_t next_launch_ = 0, launched_in_backward_ = 0;
  bool active_ = false;
  std::mutex mu_;
};

}  // namespace ijepa::host
