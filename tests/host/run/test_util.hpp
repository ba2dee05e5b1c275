#pragma once
// Helpers for trainer tests: a tiny, fast experiment on synthetic data, and the built-in plugins.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "config/experiment.hpp"
#include "plugins/plugin_loader.hpp"

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

inline std::filesystem::path temp_dir(const std::string& tag) {
  auto d = std::filesystem::temp_directory_path() / ("ijepa_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline void write_text(const std::filesystem::path& p, const std::string& s) { std::ofstream(p) << s; }
// read_text(p) -> the whole file ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline host::PluginHost& builtin_plugins() {
  static host::PluginHost* h = [] {
    auto* ph = new host::PluginHost();
    ph->load_all(host::LoaderOptions{});
    return ph;
  }();
  return *h;
}

}  // namespace ijepa::test
