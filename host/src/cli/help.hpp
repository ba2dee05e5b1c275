#pragma once
// Per-command help: `ijepa COMMAND --help` (or -h) prints the command's whole usage — every option with its default
// and an example — and exits 0. The option tables here are the documentation; parse errors suggest from them too.
#include <ostream>
#include <string>
#include <vector>

namespace ijepa::host::cli {

struct OptionHelp {
  std::string name;     // "--out DIR" (with its value's placeholder) or "--json"
  std::string text;     // what it does
  std::string fallback; // the default ("" when required or a flag)
};

struct CommandHelp {
  std::string command;   // "train", "bench train"
  std::string synopsis;  // "CONFIG.json [options]"
  std::string summary;   // one paragraph
  std::vector<OptionHelp> options;
  std::vector<std::string> examples;
};

// The help of `command` ("bench train" for the bench subcommands), or nullptr.
const CommandHelp* find_help(const std::string& command);
const std::vector<CommandHelp>& all_help();
void print_help(std::ostream& os, const CommandHelp& h);
// wants_help(argv): -h or --help among the command's arguments.
bool wants_help(const std::vector<std::string>& argv);

}  // namespace ijepa::host::cli
