// The `ijepa` command line: parses the subcommand and hands over to the host library.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <c10/util/Exception.h>

#include "cli/commands.hpp"
#include "cli/help.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/proc/crash_report.hpp"

namespace {

void usage(std::ostream& os) {
  os << "usage: ijepa <command> [options]\n"
        "  --version                         versions of the workbench, SDK and torch; CUDA device\n"
        "  plugins [--plugin-dir DIR]... [--json]   loaded components and rejected plugin files\n"
        "  describe KIND/TYPE                a plugin's default config, every key documented\n"
        "  masks --masker TYPE --image-size N --patch-size P --batch B --steps S --seed X [--set k=v]... [--out F]\n"
        "                                    sample masks for batches 0..S-1: statistics, and JSON to F\n"
        "  train CONFIG.json [--set a.b=v]... [--out DIR] [--resume]   pretrain (or resume) one run\n"
        "  sweep FILE [--out DIR] [--dry-run] [--jobs N] [--restart-failed] [--reuse DIR]... [--set a.b=v]...\n"
        "                                    run every trial of FILE's \"sweep\" (one `ijepa train` process each);\n"
        "                                    resumable\n"
        "  report SWEEP_DIR [--reference GROUP] [--best-by METRIC] [--order 'A > B']... [--defaults]   regenerate a "
        "sweep's\n"
        "                                    summary.{md,csv,jsonl}, summary_grouped.csv:\n"
        "                                    gains, intervals over seeds and test images, paired differences\n"
        "  eval RUN_DIR|CHECKPOINT --evaluator TYPE [--set k=v]... [--data SOURCE|DIR] [--encoder target|context]\n"
        "                                    frozen-feature probes, with a random-init baseline; table + JSON\n"
        "  embed --checkpoint F --data SOURCE|DIR --out F.safetensors [--pooled|--last4|--tokens] [--encoder target|context]\n"
        "                                    extract features (and labels) for downstream use\n"
        "  export RUN_DIR|CHECKPOINT --format timm|hf --out DIR [--encoder target|context]   the encoder for timm or\n"
        "                                    Hugging Face transformers (config.json + model.safetensors)\n"
        "  bench train --model M --patch P --image-size N --batch B [--steps S] [--baseline python]   time training steps\n"
        "  bench data --source S [--root PATH] --image-size N --workers W [--seconds S] [--batch B] [--masks] [--baseline torchvision]   loader images/s\n"
        "common options: --plugin-dir DIR (repeatable), --allow-insecure-plugins; env IJEPA_PLUGIN_PATH\n"
        "every command: -h, --help (its options, defaults and examples); ijepa help COMMAND\n";
}

int run(int argc, char** argv) {
  using namespace ijepa::host::cli;
  // A crash (SIGSEGV, SIGABRT, ...) writes the signal, the address, the stage and a backtrace to stderr first.
  ijepa::host::proc::install_crash_report("ijepa");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    usage(std::cerr);
    return 2;
  }
  const std::string cmd = args[0];
  const Argv rest(args.begin() + 1, args.end());
  // `ijepa COMMAND --help`, `ijepa bench train -h`, `ijepa help COMMAND`: the command's whole usage, exit 0.
  const bool bench_sub = cmd == "bench" && !rest.empty() && (rest[0] == "train" || rest[0] == "data");
  const std::string key = bench_sub ? "bench " + rest[0] : cmd == "help" && !rest.empty() ? rest[0] : cmd;
  const CommandHelp* two_words = cmd == "help" && rest.size() > 1 ? find_help(rest[0] + " " + rest[1]) : nullptr;
  if (const CommandHelp* h = two_words != nullptr ? two_words : find_help(key);  // `help bench train`, `help train -h`
      h != nullptr && (wants_help(rest) || cmd == "help")) {
    print_help(std::cout, *h);
    return 0;
  }
  try {
    if (cmd == "--version" || cmd == "version") return cmd_version();
    // `ijepa help bench`, `ijepa bench --help`: both subcommands' help.
    if ((cmd == "help" && rest.size() == 1 && rest[0] == "bench") || (cmd == "bench" && wants_help(rest))) {
      for (const char* sub : {"bench train", "bench data"}) print_help(std::cout, *find_help(sub));
      return 0;
    }
    if (cmd == "help" && !rest.empty() && rest[0] != "-h" && rest[0] != "--help") {
      // `ijepa help nosuch`: no such command's help (the lookup above served the known ones)
      std::vector<std::string> commands;
      for (const auto& h : all_help()) commands.push_back(h.command);
      const std::string topic = rest.size() > 1 && rest[0] == "bench" ? rest[0] + " " + rest[1] : rest[0];
      const std::string guess = nearest(topic, commands);
      std::cerr << "ijepa help: no command '" << topic << "'" << (guess.empty() ? "" : " (did you mean " + guess + "?)")
                << "; `ijepa --help` lists them\n";
      return 2;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      usage(std::cout);
      return 0;
    }
    if (cmd == "plugins") return cmd_plugins(rest);
    if (cmd == "describe") return cmd_describe(rest);
    if (cmd == "masks") return cmd_masks(rest);
    if (cmd == "train") return cmd_train(rest);
    if (cmd == "sweep") return cmd_sweep(rest);
    if (cmd == "report") return cmd_report(rest);
    if (cmd == "eval") return cmd_eval(rest);
    if (cmd == "embed") return cmd_embed(rest);
    if (cmd == "export") return cmd_export(rest);
    if (cmd == "bench" && !rest.empty() && rest[0] == "train") return cmd_bench_train(Argv(rest.begin() + 1, rest.end()));
    if (cmd == "bench" && !rest.empty() && rest[0] == "data") return cmd_bench_data(Argv(rest.begin() + 1, rest.end()));
    if (cmd == "bench") throw UsageError("expected `ijepa bench train ...` or `ijepa bench data ...`");
    std::vector<std::string> commands{"--version", "help"};
    for (const auto& h : all_help()) commands.push_back(h.command.substr(0, h.command.find(' ')));
    const std::string guess = nearest(cmd, commands);
    std::cerr << "ijepa: unknown command '" << cmd << "'" << (guess.empty() ? "" : " (did you mean " + guess + "?)")
              << "\n";
    usage(std::cerr);
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "ijepa " << cmd << ": " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {  // torch errors carry a backtrace: keep the first line of the message
    std::string msg = e.what_without_backtrace();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    std::cerr << "ijepa " << cmd << ": error: " << msg << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ijepa " << cmd << ": error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

// Every command's work, files and threads are finished when run() returns (RAII inside it); what is left are the
// libraries' static destructors, and one of them crashed: oneDNN's primitive cache freeing a JIT kernel at exit
// (SIGSEGV at address 0 in ~primitive_cache_t, seen once after an interrupted 2-rank run, whose status and
// checkpoint were already written, turning its exit 130 into a crash). So the process ends with _Exit after flushing
// what it wrote, never running them.
int main(int argc, char** argv) {
  const int rc = run(argc, argv);
  std::cout.flush();
  std::cerr.flush();
  ijepa::host::logging::clear_file_sinks();  // flushes and closes log.txt
  std::fflush(nullptr);
  std::_Exit(rc);
}
