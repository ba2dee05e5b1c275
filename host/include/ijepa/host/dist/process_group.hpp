#pragma once
// Distributed training on torch.distributed's C++ layer (c10d): a TCPStore rendezvous and a ProcessGroupGloo
// (CPU tensors; CUDA tensors are staged through the host) or, where the build has NCCL, a ProcessGroupNCCL. The launch
// variables are the usual ones (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so torchrun-style and
// SLURM launches work; `ijepa train --nproc N` sets them for N local workers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace ijepa::host {

// A collective failed: a peer died, the network broke, or a timeout passed. One line, names the rank and the op.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DistEnv {
  int rank = 0, world = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// dist_env_from_environment() -> the launch variables, or nullopt when WORLD_SIZE is unset (a single process).
// Throws std::invalid_argument (one line naming the variable) for malformed or inconsistent values.
std::optional<DistEnv> dist_env_from_environment();

// The backends this build offers, e.g. "gloo" or "gloo, nccl".
std::string distributed_backends();
// default_backend(cuda) -> "nccl" for CUDA training when the build has NCCL, else "gloo".
std::string default_backend(bool cuda);

class ProcessGroup {
 public:
  struct Pending;  // an in-flight collective
  using Handle = std::shared_ptr<Pending>;

  // connect(env, backend "gloo"|"nccl", timeout): rendezvous through a TCPStore on MASTER_ADDR:MASTER_PORT (rank 0
  // hosts it) and build the process group. Throws DistributedError when the peers do not arrive within timeout,
  // or (nccl) when the build has no NCCL or the machine no CUDA device. With nccl, the current CUDA device becomes
  // LOCAL_RANK modulo the number of devices.
  static std::shared_ptr<ProcessGroup> connect(const DistEnv& env, const std::string& backend,
                                               std::chrono::milliseconds timeout);
  ~ProcessGroup();

  int rank() const { return env_.rank; }
  int world() const { return env_.world; }
  const std::string& backend() const { return backend_; }

  // allreduce_sum_async(t): starts a summing all-reduce of t in place; wait(h) completes it.
  Handle allreduce_sum_async(const at::Tensor& t);
  void wait(const Handle& h, const std::string& what);
  void allreduce_sum(const at::Tensor& t, const std::string& what);
  void broadcast(const std::vector<at::Tensor>& tensors, int root, const std::string& what);
  void barrier(const std::string& what);

 private:
  struct Impl;
  ProcessGroup(DistEnv env, std::string backend, std::unique_ptr<Impl> impl);
  at::Tensor on_backend_device(const at::Tensor& t) const;
  DistEnv env_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ijepa::host
