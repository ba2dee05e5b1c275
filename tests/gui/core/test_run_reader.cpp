#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/run_reader.hpp"
#include "temp_dirs.hpp"

namespace fs = std::filesystem;
using namespace ijepa::gui;

namespace {

fs::path fresh(const std::string& tag) { return ijepa::test::fresh_temp_dir("ijepa_gui_" + tag); }

void append(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::app | std::ios::binary) << s; }
void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::trunc | std::ios::binary) << s; }

}  // namespace

TEST(RunReader, TailsMetricsIncludingAPartialLastLine) {
  const fs::path d = fresh("tail");
  write(d / "config.resolved.json", "{\"name\": \"x\"}");
  write(d / "status.json", "{\"state\": \"running\", \"step\": 2}");
  write(d / "metrics.jsonl", "{\"step\":1,\"loss\":0.5,\"lr\":0.1,\"split\":\"train\"}\n{\"step\":2,\"lo");
  RunReader r(d);
  EXPECT_TRUE(r.poll());
  EXPECT_EQ(r.data().state, "running");
  EXPECT_EQ(r.data().metric_lines, 1);
  ASSERT_EQ(r.data().metrics.at("loss").y.size(), 1u);
  EXPECT_FALSE(r.poll());  // nothing new
  append(d / "metrics.jsonl", "ss\":0.25,\"lr\":0.2}\n");
  EXPECT_TRUE(r.poll());
  const Series& loss = r.data().metrics.at("loss");
  ASSERT_EQ(loss.y.size(), 2u);
  EXPECT_DOUBLE_EQ(loss.x[1], 2);
  EXPECT_DOUBLE_EQ(loss.y[1], 0.25);
  EXPECT_TRUE(r.data().problems.empty());
  EXPECT_EQ(r.data().config.value("name", ""), "x");
}

TEST(RunReader, BadLinesAreReportedAndSkipped) {
  const fs::path d = fresh("bad");
  write(d / "metrics.jsonl", "{\"step\":1,\"loss\":1}\nnot json\n{\"loss\":2}\n{\"step\":3,\"loss\":3,\"split\":\"val\"}\n");
  RunReader r(d);
  r.poll();
  EXPECT_EQ(r.data().metrics.at("loss").y.size(), 1u);
  EXPECT_EQ(r.data().metrics.at("val/loss").y.size(), 1u);
  ASSERT_EQ(r.data().problems.size(), 2u);
  EXPECT_NE(r.data().problems[0].find("metrics.jsonl line 2"), std::string::npos);
  EXPECT_NE(r.data().problems[1].find("line 3"), std::string::npos);
}

TEST(RunReader, ATruncatedFileIsReadAgain) {
  const fs::path d = fresh("trunc");
  write(d / "metrics.jsonl", "{\"step\":1,\"loss\":1}\n{\"step\":2,\"loss\":2}\n{\"step\":3,\"loss\":3}\n");
  RunReader r(d);
  r.poll();
  EXPECT_EQ(r.data().metrics.at("loss").y.size(), 3u);
  write(d / "metrics.jsonl", "{\"step\":1,\"loss\":1}\n");  // a resumed run rewrote its tail
  EXPECT_TRUE(r.poll());
  EXPECT_EQ(r.data().metrics.at("loss").y.size(), 1u);
  EXPECT_EQ(r.data().metric_lines, 1);
}

TEST(RunReader, EvalLinesBecomeSeriesWithTheRandomInitBaseline) {
  const fs::path d = fresh("eval");
  write(d / "eval.jsonl",
        "{\"step\":10,\"evaluator\":\"knn\",\"where\":\"components.evaluators.0\",\"top1\":30.5,"
        "\"random_init\":{\"top1\":20.0},\"gain\":{\"top1\":10.5},\"seconds\":3}\n");
  RunReader r(d);
  r.poll();
  EXPECT_DOUBLE_EQ(r.data().evals.at("knn top1 #0").y[0], 30.5);
  EXPECT_DOUBLE_EQ(r.data().evals.at("knn top1 #0 random-init").y[0], 20.0);
  EXPECT_EQ(r.data().evals.count("knn seconds #0"), 0u);
}

TEST(RunReader, AHalfWrittenStatusKeepsTheLastGoodOne) {
  const fs::path d = fresh("status");
  write(d / "status.json", "{\"state\": \"running\"}");
  RunReader r(d);
  r.poll();
  write(d / "status.json", "{\"state\": \"compl");
  r.poll();
  EXPECT_EQ(r.data().state, "running");
  write(d / "status.json", "{\"state\": \"completed\"}");
  r.poll();
  EXPECT_EQ(r.data().state, "completed");
}

namespace {

// A child that sleeps with argv[0] = name, so its /proc/<pid>/cmdline reads like that program.
pid_t sleeper(const char* name) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("sleep", name, "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Until the exec, the child's command line is still this test's.
  for (int i = 0; i < 500; ++i) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.rfind(std::string(name) + '\0', 0) == 0) break;
    ::usleep(10000);
  }
  return pid;
}

void end(pid_t pid) {
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
}

std::string running_status(long long pid, const std::string& host) {
  nlohmann::json j = {{"state", "running"}, {"pid", pid}};
  if (!host.empty()) j["host"] = host;
  return j.dump();
}

}  // namespace

// A run killed outright (second Ctrl-C, SIGKILL) leaves status.json "running": the viewer shows it stopped once its
// process is gone from this host, and notices without any file changing.
TEST(RunReader, ARunWhoseProcessIsGoneReadsStopped) {
  const std::string host = local_host_name();
  ASSERT_FALSE(host.empty());
  const fs::path d = fresh("killed");
  write(d / "config.resolved.json", "{}");
  const pid_t trainer = sleeper("ijepa");
  ASSERT_GT(trainer, 0);
  write(d / "status.json", running_status(trainer, host));
  RunReader r(d);
  r.poll();
  EXPECT_EQ(r.data().state, "running");
  EXPECT_EQ(list_runs(d).at(0).state, "running");
  end(trainer);
  EXPECT_TRUE(r.poll()) << "the state changed though no file did";
  const std::string stopped = "stopped (pid " + std::to_string(trainer) + " ended without recording it)";
  EXPECT_EQ(r.data().state, stopped);
  EXPECT_EQ(list_runs(d).at(0).state, stopped);
  EXPECT_FALSE(r.poll());

  // Taken at its word: written on another machine, or before status.json named its host.
  EXPECT_EQ(status_state(nlohmann::json::parse(running_status(trainer, host + "-elsewhere")), host), "running");
  EXPECT_EQ(status_state(nlohmann::json::parse(running_status(trainer, "")), host), "running");
  // A live process with that pid that is not ijepa (the pid reused) does not keep the run running.
  const pid_t other = sleeper("sleep");
  ASSERT_GT(other, 0);
  EXPECT_EQ(status_state(nlohmann::json::parse(running_status(other, host)), host).rfind("stopped (pid ", 0), 0u);
  end(other);
  // Other states are as written.
  EXPECT_EQ(status_state(nlohmann::json::parse("{\"state\": \"completed\", \"pid\": 1, \"host\": \"" + host +
                                               "\"}"), host), "completed");
  EXPECT_EQ(status_state(nlohmann::json::parse("{}"), host), "unknown");
  fs::remove_all(d);
}

TEST(RunReader, AMissingDirectoryIsAProblemNotACrash) {
  RunReader r(fs::temp_directory_path() / "ijepa_gui_no_such_run_dir");
  EXPECT_TRUE(r.poll());
  EXPECT_FALSE(r.poll());
  ASSERT_EQ(r.data().problems.size(), 1u);
  EXPECT_NE(r.data().problems[0].find("no such directory"), std::string::npos);
}

TEST(RunBrowser, ListsRunsSweepsAndTrialsNotStartedYet) {
  const fs::path root = fresh("browse");
  fs::create_directories(root / "a_run");
  write(root / "a_run/config.resolved.json", "{}");
  write(root / "a_run/status.json", "{\"state\":\"completed\"}");
  fs::create_directories(root / "group/nested_run");
  write(root / "group/nested_run/config.resolved.json", "{}");
  fs::create_directories(root / "sw/trials/t8_0.15_s0");
  write(root / "sw/sweep.json", "{}");
  write(root / "sw/trials/t8_0.15_s0/config.resolved.json", "{}");
  write(root / "sw/trials/t8_0.15_s0.json", "{}");
  write(root / "sw/trials/t8_0.15_s0.proc.json", "{}");
  write(root / "sw/trials/t8_0.2_s0.json", "{}");
  fs::create_directories(root / "empty");

  const auto runs = list_runs(root);
  std::vector<std::string> names;
  for (const auto& e : runs) names.push_back(e.name + ":" + e.state);
  const std::vector<std::string> want{"a_run:completed", "group/nested_run:no status", "sw:sweep",
                                      "sw/trials/t8_0.15_s0:no status", "sw/trials/t8_0.2_s0:not started"};
  EXPECT_EQ(names, want);
  EXPECT_EQ(classify(root / "sw"), DirKind::sweep);
  EXPECT_EQ(classify(root / "a_run"), DirKind::run);
  EXPECT_EQ(classify(root / "nope"), DirKind::missing);
  EXPECT_EQ(list_runs(root / "a_run").size(), 1u);
  EXPECT_EQ(list_runs(root / "sw").size(), 3u);
}
