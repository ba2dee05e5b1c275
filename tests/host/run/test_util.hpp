#pragma once
// Helpers for trainer tests: a tiny, fast experiment on synthetic data, and the built-in plugins; files; running
// the built `ijepa` binary.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "temp_dirs.hpp"

namespace ijepa::test {

inline nlohmann::json tiny_experiment() {
  return nlohmann::json::parse(R"({
    "schema_version": 1, "name": "tiny", "seed": 3,
    "data": {"source": "synthetic", "image_size": 32, "synthetic_count": 64, "workers": 2},
    "components": {
      "masker": {"type": "multiblock", "min_keep": 4},
      "encoder": {"type": "vit", "preset": "vit_tiny", "patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2},
      "predictor": {"type": "vit_predictor", "embed_dim": 16, "depth": 1, "num_heads": 2},
      "loss": {"type": "smooth_l1"}
    },
    "train": {"epochs": 2, "batch_size": 8, "warmup_epochs": 0.5, "log_every": 2, "threads": 1, "checkpoint_every": 2}
  })");
}

// An experiment as load_layered would give it: the host defaults under the test's keys.
inline nlohmann::json layered(const nlohmann::json& exp) {
  nlohmann::json out = host::experiment_defaults();
  out.merge_patch(exp);
  return out;
}

// temp_dir("x") -> an empty <tmp>/ijepa_x_<pid>, removed when the test program passes (temp_dirs.hpp).
inline std::filesystem::path temp_dir(const std::string& tag) { return fresh_temp_dir("ijepa_" + tag); }

inline void write_text(const std::filesystem::path& p, const std::string& s) { std::ofstream(p) << s; }
// read_text(p) -> the whole file ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// count_lines(s) -> the number of '\n' in s (a one-line error message has 1).
inline std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// run_shell(cmd, output) -> the exit status of `cmd 2>&1` run by /bin/sh (-1 when it did not exit normally); what it
// printed on stdout and stderr, together, in *output.
inline int run_shell(const std::string& cmd, std::string* output = nullptr) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  if (p != nullptr) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  }
  const int rc = p != nullptr ? ::pclose(p) : -1;
  if (output != nullptr) *output = out;
  return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#ifdef IJEPA_CLI
// run_cli("train e.json ...", &out): the built `ijepa` binary (IJEPA_CLI, defined by the test's CMake target).
inline int run_cli(const std::string& args, std::string* output = nullptr) {
  return run_shell(std::string(IJEPA_CLI) + " " + args, output);
}

// cli("help train") -> its exit status and what it printed (stdout and stderr together).
struct CliOut {
  int rc;
  std::string text;
};
inline CliOut cli(const std::string& args) {
  CliOut o;
  o.rc = run_cli(args, &o.text);
  return o;
}
#endif

#ifdef IJEPA_PYTHON
// read_tfevents(dir, out, why): the scalars of dir's TensorBoard event files as TensorBoard's own reader sees them
// ({"tag": [[step, value], ...]}, tests/tools/read_tfevents.py); false, with the reason in `why`, when the venv's
// Python has no tensorboard package (the caller skips).
inline bool read_tfevents(const std::filesystem::path& dir, nlohmann::json& out, std::string& why) {
  std::string text;
  const int rc = run_shell(std::string("'") + IJEPA_PYTHON + "' '" + IJEPA_TEST_SOURCE_DIR +
                               "/tools/read_tfevents.py' '" + dir.string() + "'",
                           &text);
  if (rc == 3) {
    why = text;
    return false;
  }
  if (rc != 0 || text.find('{') == std::string::npos) throw std::runtime_error("read_tfevents.py failed: " + text);
  out = nlohmann::json::parse(text.substr(text.find('{')));
  return true;
}
#endif

inline host::PluginHost& builtin_plugins() {
  static host::PluginHost* h = [] {
    auto* ph = new host::PluginHost();
    ph->load_all(host::LoaderOptions{});
    return ph;
  }();
  return *h;
}

}  // namespace ijepa::test
