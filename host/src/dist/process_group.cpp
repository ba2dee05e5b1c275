// The only file that includes the c10d headers (the Gloo ones need Debian's libgloo-dev headers; the symbols are in
// libtorch_cpu; ProcessGroupNCCL's are in libtorch_cuda and need nccl.h). The defines select the backend classes in
// torch's headers; IJEPA_HAVE_NCCL comes from host/CMakeLists.txt.
#define USE_C10D_GLOO 1
#if IJEPA_HAVE_NCCL
#define USE_C10D_NCCL 1
#endif
#include "ijepa/host/dist/process_group.hpp"
#include "ijepa/host/util/errors.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Logging.h>

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#if IJEPA_HAVE_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace ijepa::host {

namespace {

long long env_int(const char* name, long long lo, long long hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::invalid_argument(std::string("distributed launch: ") + name + " is not set");
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi) {
    throw std::invalid_argument(std::string("distributed launch: ") + name + "='" + v + "' is not an integer in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return x;
}

// failed(rank, what, e) -> the one-line error of a collective that failed.
DistributedError failed(int rank, const std::string& what, const std::exception& e) {
  const std::string line = error_line(e);
  // A timeout is also what a rank sees while rank 0 alone evaluates or saves for longer than the timeout.
  const bool timed_out = line.find("Timed out") != std::string::npos || line.find("timed out") != std::string::npos;
  return DistributedError("distributed: rank " + std::to_string(rank) + ": " + what + " failed (" + line +
                          "); another rank has probably died or been killed" +
                          (timed_out ? ", or is still busy: rank 0 runs the in-run evaluations and checkpoints while "
                                       "the others wait, so --dist-timeout must cover the longest of them"
                                     : ""));
}

// connect_store(addr, options): torch's TCPStore within its timeout and a grace. Its client retries the connection
// for the timeout (a master that is not up yet), but then waits without one for the store's first answer: a program
// on MASTER_PORT that accepts connections and never answers would hold the rank for as long as it stays there. The
// store is made on a thread of its own; one that is not made by then is a one-line error, and the thread is left
// behind blocked in its read (the process is about to exit with the error; a late answer only fills a promise).
c10::intrusive_ptr<c10d::TCPStore> connect_store(const std::string& addr, const c10d::TCPStoreOptions& so) {
  using Store = c10::intrusive_ptr<c10d::TCPStore>;
  auto made = std::make_shared<std::promise<Store>>();
  std::future<Store> store = made->get_future();
  std::thread([made, addr, so] {
    try {
      made->set_value(c10::make_intrusive<c10d::TCPStore>(addr, so));
    } catch (...) {
      made->set_exception(std::current_exception());
    }
  }).detach();
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(so.timeout);
  const auto grace = std::max(std::chrono::milliseconds(10000), timeout / 10);
  // (at most a year: wait_for's deadline in nanoseconds would overflow for a --dist-timeout past ~290 years)
  const auto limit = std::min<std::chrono::milliseconds>(timeout + grace, std::chrono::hours(24 * 365));
  if (store.wait_for(limit) != std::future_status::ready) {
    throw std::runtime_error("no answer from a TCPStore there within " + std::to_string(limit.count() / 1000) +
                             " s: is another program listening on MASTER_PORT?");
  }
  return store.get();
}

// While ranks meet, torch's own c10d log lines (a warning with a 30-frame backtrace for every retried connection)
// would bury the one-line error this file gives: they are held back unless TORCH_CPP_LOG_LEVEL asks for them.
class QuietTorchLog {
 public:
  QuietTorchLog() : was_(FLAGS_caffe2_log_level) {
    const char* asked = std::getenv("TORCH_CPP_LOG_LEVEL");
    if (asked == nullptr || *asked == '\0') FLAGS_caffe2_log_level = std::max(was_, 3);  // 3: fatal only
  }
  ~QuietTorchLog() { FLAGS_caffe2_log_level = was_; }
  QuietTorchLog(const QuietTorchLog&) = delete;
  QuietTorchLog& operator=(const QuietTorchLog&) = delete;

 private:
  int was_;
};

// The master's address must resolve before anyone waits on it: an unknown host name read as a timeout.
void check_resolves(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (res != nullptr) ::freeaddrinfo(res);
  if (rc != 0) {
    throw std::runtime_error("MASTER_ADDR '" + host + "' does not resolve: " + ::gai_strerror(rc));
  }
}

}  // namespace

std::optional<DistEnv> dist_env_from_environment() {
  const char* ws = std::getenv("WORLD_SIZE");
  if (!ws || !*ws) {
    // RANK alone is a launch that lost WORLD_SIZE (a launcher script's typo): training alone would go unnoticed.
    if (const char* r = std::getenv("RANK"); r && *r) {
      throw std::invalid_argument(std::string("distributed launch: RANK='") + r + "' is set but WORLD_SIZE is not "
                                  "(set both, or neither for one process)");
    }
    return std::nullopt;
  }
  DistEnv e;
  e.world = static_cast<int>(env_int("WORLD_SIZE", 1, 1 << 20));
  e.rank = static_cast<int>(env_int("RANK", 0, e.world - 1));
  const char* lr = std::getenv("LOCAL_RANK");
  e.local_rank = (lr && *lr) ? static_cast<int>(env_int("LOCAL_RANK", 0, 1 << 16)) : 0;
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.master_addr = a;
  else if (e.world > 1) throw std::invalid_argument("distributed launch: MASTER_ADDR is not set (WORLD_SIZE > 1)");
  if (e.world > 1) e.master_port = static_cast<int>(env_int("MASTER_PORT", 1, 65535));
  return e;
}

std::string distributed_backends() { return IJEPA_HAVE_NCCL ? "gloo, nccl" : "gloo"; }

std::string default_backend(bool cuda) { return cuda && IJEPA_HAVE_NCCL ? "nccl" : "gloo"; }

struct ProcessGroup::Pending {
  c10::intrusive_ptr<c10d::Work> work;
};

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> pg;
};

ProcessGroup::ProcessGroup(DistEnv env, std::string backend, std::unique_ptr<Impl> impl)
    : env_(std::move(env)), backend_(std::move(backend)), impl_(std::move(impl)) {}

ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const DistEnv& env, const std::string& backend,
                                                    std::chrono::milliseconds timeout) {
  if (backend != "gloo" && !(backend == "nccl" && IJEPA_HAVE_NCCL)) {
    throw DistributedError("distributed: backend '" + backend + "' is not in this build (available: " +
                           distributed_backends() + ")");
  }
  auto impl = std::make_unique<Impl>();
  const std::string where = "rank " + std::to_string(env.rank) + "/" + std::to_string(env.world);
#if IJEPA_HAVE_NCCL
  if (backend == "nccl") {
    // One GPU per local rank: the model, its buffers and the collectives all use the current device, which an
    // index-less train.device "cuda" follows.
    const int n = c10::cuda::device_count();
    if (n < 1) throw DistributedError("distributed: backend 'nccl' needs a CUDA device, and this machine has none");
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(env.local_rank % n));
  }
#endif
  const QuietTorchLog quiet;
  try {
    if (env.world > 1) check_resolves(env.master_addr);
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = env.world;
    so.waitWorkers = true;
    so.timeout = timeout;
    auto tcp = connect_store(env.master_addr, so);
    impl->store = c10::make_intrusive<c10d::PrefixStore>("ijepa", tcp);
#if IJEPA_HAVE_NCCL
    if (backend == "nccl") {
      auto nopts = c10d::ProcessGroupNCCL::Options::create();
      nopts->timeout = timeout;
      impl->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl->store, env.rank, env.world, nopts);
      return std::shared_ptr<ProcessGroup>(new ProcessGroup(env, backend, std::move(impl)));
    }
#endif
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // The interface that reaches the master (hostname resolution can pick a loopback address on clusters).
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    const bool local = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
    if (ifname && *ifname) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (local) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank, env.world, opts);
  } catch (const std::exception& e) {
    throw DistributedError("distributed: " + where + " could not join the group at " + env.master_addr + ":" +
                           std::to_string(env.master_port) + " (" + error_line(e) + ")");
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(env, backend, std::move(impl)));
}

ProcessGroup::Handle ProcessGroup::allreduce_sum_async(const at::Tensor& t) {
  std::vector<at::Tensor> v{t};
  try {
    return std::make_shared<Pending>(Pending{impl_->pg->allreduce(v)});
  } catch (const std::exception& e) {
    throw DistributedError("distributed: rank " + std::to_string(env_.rank) + ": all-reduce failed to start (" +
                           error_line(e) + ")");
  }
}

void ProcessGroup::wait(const Handle& h, const std::string& what) {
  try {
    h->work->wait();
  } catch (const std::exception& e) {
    throw failed(env_.rank, what, e);
  }
}

// NCCL reduces device tensors only: the small host tensors of the trainer (loss and stop wishes, resume check) go
// through the current GPU and back.
at::Tensor ProcessGroup::on_backend_device(const at::Tensor& t) const {
  return backend_ == "nccl" && t.is_cpu() ? t.to(at::Device(at::kCUDA)) : t;
}

void ProcessGroup::allreduce_sum(const at::Tensor& t, const std::string& what) {
  const at::Tensor d = on_backend_device(t);
  wait(allreduce_sum_async(d), what);
  if (!d.is_same(t)) t.copy_(d);
}

void ProcessGroup::broadcast(const std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  // One flat buffer per dtype/device: a collective per tensor would cost a round trip each.
  std::map<std::pair<at::ScalarType, std::string>, std::vector<at::Tensor>> groups;
  for (const auto& t : tensors) groups[{t.scalar_type(), t.device().str()}].push_back(t);
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (auto& [key, ts] : groups) {
    std::vector<at::Tensor> flat_parts;
    for (const auto& t : ts) flat_parts.push_back(t.detach().reshape({-1}));
    std::vector<at::Tensor> v{on_backend_device(at::cat(flat_parts))};
    try {
      impl_->pg->broadcast(v, o)->wait();
    } catch (const std::exception& e) {
      throw failed(env_.rank, what, e);
    }
    at::NoGradGuard no_grad;
    std::int64_t off = 0;
    for (const auto& t : ts) {
      const std::int64_t n = t.numel();
      t.detach().copy_(v[0].narrow(0, off, n).view(t.sizes()));
      off += n;
    }
  }
}

void ProcessGroup::barrier(const std::string& what) {
  try {
    impl_->pg->barrier()->wait();
  } catch (const std::exception& e) {
    throw failed(env_.rank, what, e);
  }
}

}  // namespace ijepa::host
