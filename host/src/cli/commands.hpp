#pragma once
// The `ijepa` subcommands. Each takes the arguments after its name and returns the process exit code.
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"

namespace ijepa::host::cli {

using Argv = std::vector<std::string>;

int cmd_version();
int cmd_plugins(const Argv& argv);
int cmd_describe(const Argv& argv);
int cmd_masks(const Argv& argv);
int cmd_train(const Argv& argv);
int cmd_sweep(const Argv& argv);
int cmd_report(const Argv& argv);
int cmd_bench_train(const Argv& argv);
int cmd_bench_data(const Argv& argv);
int cmd_eval(const Argv& argv);
int cmd_embed(const Argv& argv);
int cmd_export(const Argv& argv);
// The evaluation table (evaluator, features, metric, trained, random init, gain) of eval.jsonl-style records.
void print_eval_table(std::ostream& os, const std::vector<nlohmann::json>& records);

// Shared options of every command that loads plugins.
inline const std::set<std::string> kPluginOptions{"--plugin-dir"};
inline const std::set<std::string> kPluginFlags{"--allow-insecure-plugins"};
// Loads the built-in plugins plus --plugin-dir / IJEPA_PLUGIN_PATH; rejected files are logged as warnings.
void load_plugins(PluginHost& host, const Args& args);

// Workbench version and environment facts shared by --version and env.json.
std::string workbench_version();
std::string torch_version();
std::string cuda_summary();  // "CUDA: available, 1 device(s): NVIDIA H100 80GB HBM3" or "CUDA: not available"

}  // namespace ijepa::host::cli
