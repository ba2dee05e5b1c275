#include "ijepa/host/dist/launcher.hpp"

#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <optional>
#include <set>
#include <thread>

#include "ijepa/host/proc/process.hpp"

namespace ijepa::host {

namespace {

std::string sig_name(int sig) { return proc::signal_name(sig, false); }

}  // namespace

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("cannot find a free port: " + why);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int launch_local(const LaunchOptions& opts, std::ostream& log) {
  if (opts.nproc < 1) throw std::invalid_argument("--nproc must be >= 1");
  const int port = opts.port > 0 ? opts.port : free_tcp_port();
  const auto hw = static_cast<unsigned>(usable_cpus());
  const std::string threads = std::to_string(std::max(1u, hw / static_cast<unsigned>(opts.nproc)));
  const bool omp_set = std::getenv("OMP_NUM_THREADS") != nullptr;

  // SIGINT/SIGTERM are forwarded to every rank (restored when the function returns).
  std::optional<proc::StopSignals> signals(std::in_place, proc::StopSignals::Options{false, false});

  std::vector<pid_t> pids(static_cast<std::size_t>(opts.nproc), -1);
  std::vector<int> status(static_cast<std::size_t>(opts.nproc), 0);
  std::vector<bool> done(static_cast<std::size_t>(opts.nproc), false);
  // Environments and argv prepared before fork (the child calls async-signal-safe functions only).
  std::vector<std::vector<std::string>> envs(pids.size());
  for (int r = 0; r < opts.nproc; ++r) {
    auto& e = envs[static_cast<std::size_t>(r)];
    for (char** p = environ; *p; ++p) {
      const std::string kv = *p;
      const std::string k = kv.substr(0, kv.find('='));
      if (k == "RANK" || k == "WORLD_SIZE" || k == "LOCAL_RANK" || k == "MASTER_ADDR" || k == "MASTER_PORT" ||
          k == "LOCAL_WORLD_SIZE" || k == "IJEPA_NPROC") {
        continue;
      }
      e.push_back(kv);
    }
    e.push_back("RANK=" + std::to_string(r));
    e.push_back("LOCAL_RANK=" + std::to_string(r));
    e.push_back("WORLD_SIZE=" + std::to_string(opts.nproc));
    e.push_back("LOCAL_WORLD_SIZE=" + std::to_string(opts.nproc));
    e.push_back("MASTER_ADDR=127.0.0.1");
    e.push_back("MASTER_PORT=" + std::to_string(port));
    if (!omp_set) e.push_back("OMP_NUM_THREADS=" + threads);
    e.push_back("IJEPA_NPROC=" + std::to_string(opts.nproc));  // the worker records the launch (env.json, hints)
  }
  std::vector<std::string> args{"ijepa"};
  args.insert(args.end(), opts.args.begin(), opts.args.end());
  int started = 0;
  for (int r = 0; r < opts.nproc; ++r) {
    if (proc::StopSignals::last() != 0) break;  // stopped while starting: the started ones get the signal below
    proc::ChildSpec child;
    child.exe = opts.exe;
    child.argv = args;
    child.env = envs[static_cast<std::size_t>(r)];
    child.exec_failure = "ijepa train --nproc: cannot start the ijepa binary";
    // The workers stay in this process's group (the terminal's foreground job: Ctrl-Z, TOSTOP and SIGWINCH treat
    // the launch as one job), and end when this process does.
    child.parent_death_signal = SIGTERM;
    try {
      pids[static_cast<std::size_t>(r)] = proc::spawn(child);
    } catch (const std::exception& e) {
      for (pid_t p : pids) {
        if (p > 0) ::kill(p, SIGKILL);
      }
      for (pid_t p : pids) {
        if (p > 0) ::waitpid(p, nullptr, 0);
      }
      throw std::runtime_error("cannot start worker " + std::to_string(r) + ": " + e.what());
    }
    ++started;
  }

  int first_failed = -1;
  std::set<int> stop_signals;  // the signals of a stop (received here, forwarded, or the stop's SIGKILL)
  bool stop_kill = false;       // the deadline's SIGKILL ends a stop, not a failure
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  int remaining = started;
  while (remaining > 0) {
    if (const int sig = proc::StopSignals::take(); sig != 0) {
      // Forwarded as the other stop signal: a Ctrl-C in the terminal, or a SIGTERM to the whole group (timeout(1),
      // a scheduler), reaches the workers too, and a worker takes a second identical signal as "exit now" (its
      // handler gives way to the default action); a different one is a stop it already has. A second Ctrl-C
      // still ends the workers at once.
      const int fwd = sig == SIGINT ? SIGTERM : SIGINT;
      stop_signals.insert({sig, fwd});
      for (int r = 0; r < started; ++r) {
        if (!done[static_cast<std::size_t>(r)]) ::kill(pids[static_cast<std::size_t>(r)], fwd);
      }
      // Stopped before every worker was started: the others wait in the rendezvous for ranks that never come.
      if (started < opts.nproc && first_failed < 0) {
        stop_deadline = std::min(stop_deadline, std::chrono::steady_clock::now() + opts.grace);
        stop_kill = true;
      }
    }
    int ws = 0;
    const pid_t pid = ::waitpid(-1, &ws, WNOHANG);
    if (pid > 0) {
      // Stopped, not failed: exit 130 (a worker that took a SIGINT/SIGTERM, from here or sent to it directly: the
      // ranks stop together at a step boundary), or killed by a stop's signal (a worker still starting, before its
      // handlers, a second Ctrl-C, or the SIGKILL of a launch stopped before all its workers started).
      const auto ok = [&](int w) {
        return (WIFEXITED(w) && (WEXITSTATUS(w) == 0 || WEXITSTATUS(w) == 130)) ||
               (WIFSIGNALED(w) && stop_signals.count(WTERMSIG(w)) > 0);
      };
      const auto reap = [&](pid_t p, int w) {  // -> the rank, or -1 for a pid not ours
        for (int r = 0; r < started; ++r) {
          if (pids[static_cast<std::size_t>(r)] != p || done[static_cast<std::size_t>(r)]) continue;
          done[static_cast<std::size_t>(r)] = true;
          status[static_cast<std::size_t>(r)] = w;
          --remaining;
          return r;
        }
        return -1;
      };
      const int r = reap(pid, ws);
      if (r >= 0 && !ok(ws) && first_failed < 0) {
        first_failed = r;
        // A rank killed by a signal takes the others down within milliseconds (its peers' reads fail and they exit
        // 1), and either exit may be reaped first: the exits of the next 200 ms are collected, and a rank killed by a
        // signal is named as the cause before one that failed after it.
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (remaining > 0 && std::chrono::steady_clock::now() < until) {
          int w = 0;
          const pid_t p = ::waitpid(-1, &w, WNOHANG);
          if (p <= 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
          }
          const int q = reap(p, w);
          if (q >= 0 && !ok(w) && WIFSIGNALED(w) && !WIFSIGNALED(status[static_cast<std::size_t>(first_failed)])) {
            first_failed = q;
          }
        }
        const int fw = status[static_cast<std::size_t>(first_failed)];
        if (WIFSIGNALED(fw)) {
          log << "ijepa train: rank " << first_failed << " was killed by " << sig_name(WTERMSIG(fw)) << "\n";
        } else {
          log << "ijepa train: rank " << first_failed << " exited with code " << WEXITSTATUS(fw) << "\n";
        }
        log << "ijepa train: stopping the other ranks\n";
        for (int q = 0; q < started; ++q) {
          if (!done[static_cast<std::size_t>(q)]) ::kill(pids[static_cast<std::size_t>(q)], SIGTERM);
        }
        stop_deadline = std::chrono::steady_clock::now() + opts.grace;
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > stop_deadline) {
      if (stop_kill) stop_signals.insert(SIGKILL);
      for (int q = 0; q < started; ++q) {
        if (!done[static_cast<std::size_t>(q)]) ::kill(pids[static_cast<std::size_t>(q)], SIGKILL);
      }
      stop_deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  signals.reset();
  if (first_failed >= 0) return 1;
  bool interrupted = started < opts.nproc;
  for (int ws : status) interrupted = interrupted || (WIFEXITED(ws) && WEXITSTATUS(ws) == 130) || WIFSIGNALED(ws);
  return interrupted ? 130 : 0;
}

}  // namespace ijepa::host
