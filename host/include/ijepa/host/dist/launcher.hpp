#pragma once
// `ijepa train --nproc N`: N local worker processes of the same command, each with the launch variables of a
// torchrun-style launch (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1, MASTER_PORT a free port,
// OMP_NUM_THREADS = usable_cpus() / N unless set, IJEPA_NPROC = N). SIGINT/SIGTERM are forwarded as the other of the two
// (a Ctrl-C or a group signal reaches the workers too: the same signal twice would end them at once), so the
// workers stop together at a step boundary; they get SIGTERM when this process dies. When one worker fails or dies,
// the others are stopped (SIGTERM, then SIGKILL after a grace period).
#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace ijepa::host {

struct LaunchOptions {
  int nproc = 2;
  std::string exe = "/proc/self/exe";
  std::vector<std::string> args;  // argv of each worker, without the program name ("train", CONFIG, ...)
  std::chrono::seconds grace{20};  // SIGTERM -> SIGKILL for the survivors of a failed worker
  int port = 0;                    // 0: pick a free one
};

// launch_local(opts, log) -> the exit code: 0 when every worker succeeded, 130 when they were stopped by a signal
// (forwarded from here, or sent to a worker: exit 130 is an interruption, not a failure), 1 otherwise. One line per
// failed worker goes to log ("rank 1 was killed by SIGKILL").
int launch_local(const LaunchOptions& opts, std::ostream& log);

// usable_cpus() -> the CPUs this process may run on (its affinity mask: taskset, a container's cpuset), at least 1.
int usable_cpus();

// free_tcp_port() -> a port the kernel reports free on 127.0.0.1 (bound and released).
int free_tcp_port();

}  // namespace ijepa::host
