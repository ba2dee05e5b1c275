// Distributed runs through the real `ijepa` binary: --nproc, a torchrun-style env launch with a rank killed or
// interrupted, the backend choice, and a distributed kill-and-resume that must end where an uninterrupted run ends.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/dist/launcher.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/io/safetensors.hpp"

namespace fs = std::filesystem;
using namespace ijepa;

namespace {

// A tiny run: 256 synthetic images, batch 8 per rank -> 16 steps per epoch on 2 ranks; max_steps 24 (0: all).
fs::path write_config(const fs::path& dir, std::int64_t epochs, std::int64_t max_steps) {
  nlohmann::json exp = test::tiny_experiment();
  exp["data"]["synthetic_count"] = 256;
  exp["data"]["workers"] = 1;
  exp["train"]["epochs"] = epochs;
  exp["train"]["max_steps"] = max_steps;
  exp["train"]["threads"] = 1;
  exp["train"]["log_every"] = 2;
  exp["train"]["checkpoint_every"] = 4;
  const fs::path p = dir / "tiny.json";
  test::write_text(p, exp.dump(2));
  return p;
}

// Starts `ijepa args...` with extra environment entries, output to log; in its own process group.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const fs::path& log) {
  std::vector<std::string> a{"ijepa"};
  a.insert(a.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    ::setenv("IJEPA_LOG_LEVEL", "info", 1);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(IJEPA_CLI_EXE, argv.data());
    ::_exit(127);
  }
  return pid;
}

// wait_for(pid, seconds) -> the wait status, or -1 after the deadline (the process is then killed).
int wait_for(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int ws = 0;
    if (::waitpid(pid, &ws, WNOHANG) == pid) return ws;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

std::vector<nlohmann::json> metrics(const fs::path& run) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

void wait_until(const std::function<bool()>& cond, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!cond() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

// The workers of a `--nproc` launcher (its children).
std::vector<pid_t> workers_of(pid_t launcher) {
  const std::string kids =
      test::read_text("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
  std::istringstream is(kids);
  std::vector<pid_t> out;
  for (long long k; is >> k;) out.push_back(static_cast<pid_t>(k));
  return out;
}

// The launch variables of rank r of a 2-rank run on this machine (what torchrun would set).
std::vector<std::string> launch_env(int port, int r) {
  return {"WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port), "RANK=" + std::to_string(r),
          "LOCAL_RANK=" + std::to_string(r)};
}

}  // namespace

TEST(DistributedCli, NprocTwoTrainsOnceWithRankZeroWriting) {
  const fs::path d = test::temp_dir("dist_nproc");
  const fs::path cfg = write_config(d, 2, 24);
  const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "run").string()}, {}, d / "log.txt");
  const int ws = wait_for(pid, 120);
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << test::read_text(d / "log.txt");
  const auto st = nlohmann::json::parse(test::read_text(d / "run" / "status.json"));
  EXPECT_EQ(st.at("state"), "completed");
  EXPECT_EQ(st.at("world_size"), 2);
  EXPECT_EQ(st.at("steps_per_epoch"), 16);  // 256 images / 2 ranks / 8
  EXPECT_EQ(st.at("step"), 24);
  const auto m = metrics(d / "run");
  ASSERT_EQ(m.size(), 12u);  // one writer: every 2 steps once
  for (std::size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].at("step"), 2 * static_cast<int>(i) + 2);
  const std::string log = test::read_text(d / "log.txt");
  EXPECT_NE(log.find("2 ranks (gloo"), std::string::npos) << log;
  EXPECT_EQ(log.find("== ijepa train: completed =="), log.rfind("== ijepa train: completed =="));  // printed once
}

// The backend choice is checked before anything runs: nccl with a CPU train.device, or an unknown backend, is a
// one-line usage error; `ijepa --version` lists the backends of this build.
TEST(DistributedCli, BackendChoiceIsCheckedUpFront) {
  const fs::path d = test::temp_dir("dist_backend");
  const fs::path cfg = write_config(d, 1, 2);
  auto run = [&](const std::vector<std::string>& args) {
    const pid_t pid = spawn(args, {}, d / "log.txt");
    const int ws = wait_for(pid, 60);
    return std::make_pair(WIFEXITED(ws) ? WEXITSTATUS(ws) : -1, test::read_text(d / "log.txt"));
  };
  auto [rc, out] = run({"train", cfg.string(), "--dist-backend", "nccl", "--out", (d / "a").string()});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("train.device is 'cpu'"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_FALSE(fs::exists(d / "a"));
  std::tie(rc, out) = run({"train", cfg.string(), "--dist-backend", "mpi", "--out", (d / "b").string()});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("expected auto, gloo or nccl"), std::string::npos) << out;
  // A --nproc far beyond the cores (over 4 per core: a typo would fork until the machine stops) is refused at once.
  std::tie(rc, out) = run({"train", cfg.string(), "--nproc", "100000", "--out", (d / "c").string()});
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--nproc 100000: far more workers than the"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_FALSE(fs::exists(d / "c"));
  std::tie(rc, out) = run({"--version"});
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("distributed backends: gloo"), std::string::npos) << out;
  fs::remove_all(d);
}

TEST(DistributedCli, AKilledRankMakesTheOthersExitWithAClearError) {
  const fs::path d = test::temp_dir("dist_kill");
  const fs::path cfg = write_config(d, 200, 0);  // long enough to be killed mid-run
  const int port = host::free_tcp_port();
  const std::vector<std::string> args{"train", cfg.string(), "--out", (d / "run").string(), "--dist-timeout", "600"};
  const pid_t p0 = spawn(args, launch_env(port, 0), d / "rank0.txt");
  const pid_t p1 = spawn(args, launch_env(port, 1), d / "rank1.txt");
  wait_until([&] { return metrics(d / "run").size() >= 3; }, 60);
  ASSERT_GE(metrics(d / "run").size(), 3u) << test::read_text(d / "rank0.txt");
  ::kill(p1, SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const int ws = wait_for(p0, 60);  // far below the 600 s collective timeout: the broken connection is seen at once
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  wait_for(p1, 5);
  ASSERT_NE(ws, -1) << "rank 0 still running 60 s after rank 1 was killed\n" << test::read_text(d / "rank0.txt");
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) != 0);
  const std::string log = test::read_text(d / "rank0.txt");
  EXPECT_NE(log.find("another rank has probably died"), std::string::npos) << log;
  EXPECT_LT(waited, 30.0);
  std::printf("[ measured ] rank 0 exited %.2f s after rank 1 was killed (collective timeout 600 s)\n", waited);
  const auto st = nlohmann::json::parse(test::read_text(d / "run" / "status.json"));
  EXPECT_EQ(st.at("state"), "failed");
  EXPECT_NE(st.at("error").get<std::string>().find("distributed"), std::string::npos);
}

// A stop wish travels in the step's loss all-reduce: SIGINT to rank 1 alone (not the writer) stops both ranks at
// the same step boundary, and rank 0 marks the run interrupted with a checkpoint at that step.
TEST(DistributedCli, ASignalToOneRankStopsEveryRankAtTheSameStep) {
  const fs::path d = test::temp_dir("dist_sigint");
  const fs::path cfg = write_config(d, 200, 0);
  const int port = host::free_tcp_port();
  const std::vector<std::string> args{"train", cfg.string(), "--out", (d / "run").string()};
  const pid_t p0 = spawn(args, launch_env(port, 0), d / "rank0.txt");
  const pid_t p1 = spawn(args, launch_env(port, 1), d / "rank1.txt");
  wait_until([&] { return metrics(d / "run").size() >= 3; }, 60);
  ASSERT_GE(metrics(d / "run").size(), 3u) << test::read_text(d / "rank0.txt");
  ::kill(p1, SIGINT);
  const int w0 = wait_for(p0, 60), w1 = wait_for(p1, 60);
  ASSERT_TRUE(WIFEXITED(w0) && WIFEXITED(w1)) << test::read_text(d / "rank0.txt") << test::read_text(d / "rank1.txt");
  EXPECT_EQ(WEXITSTATUS(w0), 130) << test::read_text(d / "rank0.txt");
  EXPECT_EQ(WEXITSTATUS(w1), 130) << test::read_text(d / "rank1.txt");
  const auto st = nlohmann::json::parse(test::read_text(d / "run" / "status.json"));
  EXPECT_EQ(st.at("state"), "interrupted");
  const std::string latest = test::read_text(d / "run" / "checkpoints" / "LATEST");
  char want[32];
  std::snprintf(want, sizeof(want), "step_%08d", st.at("step").get<int>());
  EXPECT_EQ(latest.rfind(want, 0), 0u) << latest << " vs step " << st.at("step");
  // Rank 0's summary says how to continue: the same 2-rank launch, each rank with --resume.
  const std::string log0 = test::read_text(d / "rank0.txt");
  EXPECT_NE(log0.find("continue: the same 2-rank launch (torchrun, srun, ...), each rank running: ijepa train " +
                      cfg.string() + " --out " + (d / "run").string() + " --resume"),
            std::string::npos)
      << log0;
}

TEST(DistributedCli, TheLauncherStopsTheSurvivorsOfAKilledWorker) {
  const fs::path d = test::temp_dir("dist_launcher_kill");
  const fs::path cfg = write_config(d, 200, 0);
  const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "run").string()}, {}, d / "log.txt");
  wait_until([&] { return metrics(d / "run").size() >= 3; }, 60);
  // The launcher's children are the workers; kill the last one.
  const std::vector<pid_t> workers = workers_of(pid);
  ASSERT_EQ(workers.size(), 2u);
  ::kill(workers.back(), SIGKILL);
  const int ws = wait_for(pid, 60);
  ASSERT_NE(ws, -1) << test::read_text(d / "log.txt");
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 1);
  EXPECT_NE(test::read_text(d / "log.txt").find("was killed by SIGKILL"), std::string::npos) << test::read_text(d / "log.txt");
}

TEST(DistributedCli, AKilledDistributedRunResumesToTheSameResult) {
  const fs::path d = test::temp_dir("dist_resume");
  const fs::path cfg = write_config(d, 2, 24);
  // Uninterrupted reference.
  {
    const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "ref").string()}, {}, d / "ref.txt");
    const int ws = wait_for(pid, 120);
    ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << test::read_text(d / "ref.txt");
  }
  // The same run, killed (workers and launcher, SIGKILL) once a checkpoint exists, then resumed.
  const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "run").string()}, {}, d / "run.txt");
  wait_until([&] { return fs::exists(d / "run" / "checkpoints" / "step_00000008.safetensors") ||
                          fs::exists(d / "run" / "checkpoints" / "step_00000012.safetensors"); }, 60);
  const std::vector<pid_t> workers = workers_of(pid);  // (the group's SIGKILL reaches them too; no SIGTERM first)
  for (pid_t w : workers) ::kill(w, SIGKILL);
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  for (pid_t w : workers) wait_until([&] { return !fs::exists("/proc/" + std::to_string(w)); }, 10);
  const auto before = nlohmann::json::parse(test::read_text(d / "run" / "status.json"));
  ASSERT_LT(before.at("step").get<int>(), 24) << "the run ended before it could be killed";
  const pid_t pid2 = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "run").string(), "--resume"}, {},
                           d / "resume.txt");
  const int ws = wait_for(pid2, 120);
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << test::read_text(d / "resume.txt");
  EXPECT_NE(test::read_text(d / "resume.txt").find("resuming"), std::string::npos);
  const auto ref = metrics(d / "ref"), got = metrics(d / "run");
  ASSERT_EQ(ref.size(), got.size());
  for (std::size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(got[i].at("step"), ref[i].at("step"));
    EXPECT_NEAR(got[i].at("loss").get<double>(), ref[i].at("loss").get<double>(), 1e-6) << "step " << ref[i].at("step");
  }
  const auto wr = host::read_safetensors((d / "ref" / "checkpoints" / "latest.safetensors").string());
  const auto wg = host::read_safetensors((d / "run" / "checkpoints" / "latest.safetensors").string());
  for (const auto& [k, v] : wr) EXPECT_TRUE(at::allclose(wg.at(k), v, 1e-5, 1e-6)) << k;
  // A different world size cannot resume it.
  const pid_t pid3 = spawn({"train", cfg.string(), "--out", (d / "run").string(), "--resume"}, {}, d / "one.txt");
  const int ws3 = wait_for(pid3, 60);
  EXPECT_TRUE(WIFEXITED(ws3) && WEXITSTATUS(ws3) != 0);
  EXPECT_NE(test::read_text(d / "one.txt").find("was trained on 2 rank(s)"), std::string::npos) << test::read_text(d / "one.txt");
}

// Ctrl-C in a terminal (SIGINT to the whole foreground process group) and a scheduler's or timeout(1)'s SIGTERM to
// the group reach the workers and the launcher, which forwards the other stop signal: every rank stops at the same
// step boundary with a checkpoint there, the run says interrupted and the launcher exits 130. (Forwarded as the same
// signal, it was a second one, which ends a worker at once: rank 0 died and the checkpoint was lost.)
TEST(DistributedCli, ASignalToTheLaunchersGroupStopsEveryRankCleanly) {
  for (const int sig : {SIGINT, SIGTERM}) {
    const fs::path d = test::temp_dir("dist_group_signal");
    const fs::path cfg = write_config(d, 200, 0);
    const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "run").string()}, {}, d / "log.txt");
    wait_until([&] { return metrics(d / "run").size() >= 3; }, 60);
    ASSERT_GE(metrics(d / "run").size(), 3u) << test::read_text(d / "log.txt");
    ::kill(-pid, sig);
    const int ws = wait_for(pid, 60);
    const std::string log = test::read_text(d / "log.txt");
    ASSERT_NE(ws, -1) << log;
    EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 130) << strsignal(sig) << "\n" << log;
    EXPECT_EQ(log.find("stopping the other ranks"), std::string::npos) << log;
    const auto st = nlohmann::json::parse(test::read_text(d / "run" / "status.json"));
    EXPECT_EQ(st.at("state"), "interrupted") << strsignal(sig);
    char want[32];
    std::snprintf(want, sizeof(want), "step_%08d", st.at("step").get<int>());
    EXPECT_EQ(test::read_text(d / "run" / "checkpoints" / "LATEST").rfind(want, 0), 0u) << "step " << st.at("step");
    fs::remove_all(d);
  }
}

// A signal to one worker of a launch stops every rank at a step boundary: an interruption (exit 130), not a failure.
// The summary's "continue" line is the launch's own command (--nproc, the --set list) with --resume, and it works;
// env.json records the launch (--nproc) as the command.
TEST(DistributedCli, AnInterruptedLaunchSaysHowToContinueItAndTheCommandWorks) {
  const fs::path d = test::temp_dir("dist_continue");
  const fs::path cfg = write_config(d, 200, 40);
  const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--set", "train.lr=0.0004", "--out",
                           (d / "run").string()}, {}, d / "log.txt");
  wait_until([&] { return metrics(d / "run").size() >= 3; }, 60);
  ASSERT_GE(metrics(d / "run").size(), 3u) << test::read_text(d / "log.txt");
  const std::vector<pid_t> workers = workers_of(pid);
  ASSERT_EQ(workers.size(), 2u);
  ::kill(workers.back(), SIGINT);
  const int ws = wait_for(pid, 60);
  const std::string log = test::read_text(d / "log.txt");
  ASSERT_NE(ws, -1) << log;
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 130) << log;
  EXPECT_EQ(log.find("stopping the other ranks"), std::string::npos) << log;
  const std::string want = "continue: ijepa train --nproc 2 " + cfg.string() + " --set train.lr=0.0004 --out " +
                           (d / "run").string() + " --resume";
  ASSERT_NE(log.find(want), std::string::npos) << log;
  const auto env = nlohmann::json::parse(test::read_text(d / "run" / "env.json"));
  EXPECT_EQ(env.at("argv"), nlohmann::json({"ijepa", "train", "--nproc", "2", cfg.string(), "--set", "train.lr=0.0004",
                                            "--out", (d / "run").string()}))
      << env.at("argv");
  // The hint, word for word (no word of it needs quoting here).
  std::istringstream words(want.substr(std::string("continue: ijepa ").size()));
  std::vector<std::string> args;
  for (std::string w; words >> w;) args.push_back(w);
  const pid_t again = spawn(args, {}, d / "again.txt");
  const int ws2 = wait_for(again, 120);
  EXPECT_TRUE(WIFEXITED(ws2) && WEXITSTATUS(ws2) == 0) << test::read_text(d / "again.txt");
  EXPECT_EQ(nlohmann::json::parse(test::read_text(d / "run" / "status.json")).at("state"), "completed");
  fs::remove_all(d);
}

// train.init_from in a launch: rank 0 loads the weights (the start's broadcast gives them to the others); when it
// cannot, the other ranks say so instead of a broken connection, and nothing trains.
TEST(DistributedCli, AnInitFromRankZeroCannotLoadIsSaidByEveryRank) {
  const fs::path d = test::temp_dir("dist_init_from");
  const fs::path cfg = write_config(d, 1, 2);
  {
    const pid_t pid = spawn({"train", cfg.string(), "--out", (d / "wide").string(), "--set",
                             "components.encoder.embed_dim=48"}, {}, d / "wide.txt");
    const int ws = wait_for(pid, 120);
    ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << test::read_text(d / "wide.txt");
  }
  const pid_t pid = spawn({"train", cfg.string(), "--nproc", "2", "--out", (d / "run").string(), "--set",
                           "train.init_from=" + (d / "wide").string()}, {}, d / "log.txt");
  const int ws = wait_for(pid, 120);
  const std::string log = test::read_text(d / "log.txt");
  ASSERT_NE(ws, -1) << log;
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) != 0) << log;
  EXPECT_NE(log.find("train.init_from: " + (d / "wide").string()), std::string::npos) << log;
  EXPECT_NE(log.find("tensor 'encoder."), std::string::npos) << log;
  EXPECT_NE(log.find("train.init_from: rank 0 could not load the weights"), std::string::npos) << log;
  EXPECT_EQ(log.find("Connection"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(d / "run" / "metrics.jsonl"));
  // A torchrun-style launch with a file that is not there: rank 0 says so after the rendezvous and rank 1 with it,
  // at once (rank 1 is not left waiting out the timeout for a rank 0 that stopped before the rendezvous).
  const int port = host::free_tcp_port();
  const std::vector<std::string> args{"train", cfg.string(), "--out", (d / "env").string(), "--dist-timeout", "600",
                                      "--set", "train.init_from=" + (d / "nowhere").string()};
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t p0 = spawn(args, launch_env(port, 0), d / "rank0.txt");
  const pid_t p1 = spawn(args, launch_env(port, 1), d / "rank1.txt");
  const int w0 = wait_for(p0, 60), w1 = wait_for(p1, 60);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(WIFEXITED(w0) && WEXITSTATUS(w0) != 0) << test::read_text(d / "rank0.txt");
  EXPECT_TRUE(WIFEXITED(w1) && WEXITSTATUS(w1) != 0) << test::read_text(d / "rank1.txt");
  EXPECT_LT(waited, 30.0);
  EXPECT_NE(test::read_text(d / "rank0.txt").find("train.init_from: no such checkpoint file or run directory"),
            std::string::npos)
      << test::read_text(d / "rank0.txt");
  EXPECT_NE(test::read_text(d / "rank1.txt").find("train.init_from: rank 0 could not load the weights"),
            std::string::npos)
      << test::read_text(d / "rank1.txt");
  fs::remove_all(d);
}

// Ranks started with other configs (a --set on one node's command line) trained apart while config.resolved.json
// recorded rank 0's, or died in gloo's size check with a backtrace: now every rank stops after the rendezvous, the
// odd one naming the key and both values, before anything is written.
TEST(DistributedCli, RanksStartedWithAnotherConfigAreNamedBeforeAnyTraining) {
  const fs::path d = test::temp_dir("dist_config_differs");
  const fs::path cfg = write_config(d, 1, 4);
  struct Case {
    std::string set, want;
  };
  const std::vector<Case> cases = {
      {"train.lr=0.005", "'train.lr' is 0.005 here, 0.001 on rank 0"},
      {"components.encoder.depth=3", "'components.encoder.depth' is 3 here, 2 on rank 0"},
      {"data.synthetic_count=128", "'data.images found' is 128 here, 256 on rank 0"}};
  for (const Case& c : cases) {
    const int port = host::free_tcp_port();
    const fs::path out = d / "run";
    const std::vector<std::string> args{"train", cfg.string(), "--out", out.string()};
    std::vector<std::string> odd = args;
    odd.insert(odd.end(), {"--set", c.set});
    const pid_t p0 = spawn(args, launch_env(port, 0), d / "rank0.txt");
    const pid_t p1 = spawn(odd, launch_env(port, 1), d / "rank1.txt");
    const int w0 = wait_for(p0, 90), w1 = wait_for(p1, 90);
    const std::string l0 = test::read_text(d / "rank0.txt"), l1 = test::read_text(d / "rank1.txt");
    EXPECT_TRUE(WIFEXITED(w0) && WEXITSTATUS(w0) == 1) << c.set << "\n" << l0;
    EXPECT_TRUE(WIFEXITED(w1) && WEXITSTATUS(w1) == 1) << c.set << "\n" << l1;
    EXPECT_NE(l1.find("distributed launch: rank 1 was started with another config than rank 0: " + c.want),
              std::string::npos)
        << l1;
    EXPECT_NE(l0.find("distributed launch: 1 rank(s) were started with another config than rank 0's"),
              std::string::npos)
        << l0;
    for (const std::string& l : {l0, l1}) {
      EXPECT_EQ(l.find("another rank has probably died"), std::string::npos) << l;
      EXPECT_EQ(l.find("Enforce"), std::string::npos) << l;
    }
    EXPECT_FALSE(fs::exists(out)) << c.set;
  }
  fs::remove_all(d);
}

// A rank whose master is not there says so in one line: torch's own c10d log lines (a warning with a 30-frame
// backtrace per retried connection) are held back while ranks meet, and a MASTER_ADDR that does not resolve is
// named as such, not as a timeout.
TEST(DistributedCli, AMasterThatIsNotThereIsOneLine) {
  const fs::path d = test::temp_dir("dist_no_master");
  const fs::path cfg = write_config(d, 1, 2);
  const std::vector<std::string> args{"train", cfg.string(), "--out", (d / "run").string(), "--dist-timeout", "2"};
  std::vector<std::string> env = launch_env(host::free_tcp_port(), 1);
  const pid_t p = spawn(args, env, d / "absent.txt");
  const int w = wait_for(p, 60);
  const std::string absent = test::read_text(d / "absent.txt");
  EXPECT_TRUE(WIFEXITED(w) && WEXITSTATUS(w) == 1) << absent;
  EXPECT_EQ(test::count_lines(absent), 1u) << absent;
  EXPECT_NE(absent.find("distributed: rank 1/2 could not join the group at 127.0.0.1:"), std::string::npos) << absent;
  env[1] = "MASTER_ADDR=nosuchhost.invalid";
  const pid_t q = spawn(args, env, d / "unknown.txt");
  const int wq = wait_for(q, 60);
  const std::string unknown = test::read_text(d / "unknown.txt");
  EXPECT_TRUE(WIFEXITED(wq) && WEXITSTATUS(wq) == 1) << unknown;
  EXPECT_EQ(test::count_lines(unknown), 1u) << unknown;
  EXPECT_NE(unknown.find("(MASTER_ADDR 'nosuchhost.invalid' does not resolve: "), std::string::npos) << unknown;
  EXPECT_FALSE(fs::exists(d / "run"));
  fs::remove_all(d);
}
