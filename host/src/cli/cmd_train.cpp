// `ijepa train CONFIG.json [--set a.b=value]... [--out DIR] [--resume]`
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>

#include "cli/bench_util.hpp"
#include "cli/commands.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/dist/launcher.hpp"
#include "ijepa/host/dist/process_group.hpp"
#include "ijepa/host/run/run_stages.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "ijepa/host/util/cuda_info.hpp"

namespace fs = std::filesystem;

namespace ijepa::host::cli {

namespace {
std::string timestamp() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return buf;
}

// The distributed options: the backend (auto: NCCL for CUDA training where the build has it, else Gloo), the
// rendezvous timeout and the gradient bucket size.
struct DistOptions {
  std::string backend;
  long long timeout_s = 1800;
  long long nproc = 0;
};

DistOptions dist_options(const Args& args, const nlohmann::json& resolved, TrainOptions& opts) {
  DistOptions d;
  d.nproc = args.get_int("--nproc", 0);
  const bool on_cuda = resolved["train"]["device"].get<std::string>().rfind("cuda", 0) == 0;
  d.backend = args.get("--dist-backend").value_or("auto");
  if (d.backend == "auto") d.backend = default_backend(on_cuda);
  if (d.backend != "gloo" && d.backend != "nccl") {
    throw UsageError("--dist-backend: expected auto, gloo or nccl, got '" + d.backend + "'");
  }
  if (d.backend == "nccl" && !on_cuda) {
    throw UsageError("--dist-backend nccl reduces CUDA tensors, but train.device is '" +
                     resolved["train"]["device"].get<std::string>() + "' (use gloo on the CPU)");
  }
  d.timeout_s = args.get_int("--dist-timeout", 1800);
  if (d.timeout_s < 1) throw UsageError("--dist-timeout must be >= 1 second");
  const std::string bucket = args.get("--bucket-mb").value_or("25");
  try {
    const double mb = std::stod(bucket);
    if (!(mb > 0)) throw std::invalid_argument("");
    opts.bucket_bytes = static_cast<std::int64_t>(mb * 1024 * 1024);
  } catch (const std::exception&) {
    throw UsageError("--bucket-mb expects a positive number, got '" + bucket + "'");
  }
  if (args.get("--nproc") && d.nproc < 1) throw UsageError("--nproc must be >= 1, got " + std::to_string(d.nproc));
  // More local workers than cores share them (slower, but useful to try a world size on a laptop); far more is a
  // typo (100000 would fork until the machine stops): refused. Ranks beyond one machine: torchrun on several.
  const long long cores = usable_cpus();
  if (d.nproc > 4 * cores) {
    throw UsageError("--nproc " + std::to_string(d.nproc) + ": far more workers than the " + std::to_string(cores) +
                     " CPU cores this process may use (at most 4 per core; for more ranks launch them on several "
                     "machines with torchrun, docs/distributed.md)");
  }
  if (d.nproc > cores) {
    std::cerr << "ijepa train: --nproc " << d.nproc << " on " << cores
              << " CPU cores: the ranks share cores (slower; fine for trying a world size)\n";
  }
  return d;
}

// argv without the options `valued` (as "--x v" or "--x=v") and the flags `flags`.
std::vector<std::string> without_options(const std::vector<std::string>& argv, const std::vector<std::string>& valued,
                                         const std::vector<std::string>& flags) {
  auto in = [](const std::vector<std::string>& names, const std::string& a) {
    return std::find(names.begin(), names.end(), a) != names.end();
  };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (in(valued, a)) {
      ++i;  // and its value
      continue;
    }
    if (in(flags, a) || (a.find('=') != std::string::npos && in(valued, a.substr(0, a.find('='))))) continue;
    out.push_back(a);
  }
  return out;
}

// --nproc N: N local workers of this command with the same arguments without --nproc, and one --out (a default
// --out has a timestamp).
int launch_workers(const Argv& argv, const DistOptions& d, const TrainOptions& opts) {
  LaunchOptions lo;
  lo.nproc = static_cast<int>(d.nproc);
  lo.args = {"train"};
  for (const auto& a : without_options(argv, {"--nproc", "--out"}, {})) lo.args.push_back(a);
  lo.args.push_back("--out");
  lo.args.push_back(fs::absolute(opts.out).string());
  std::cerr << "ijepa train: " << d.nproc << " local workers (" << d.backend << "), run " << opts.out.string() << "\n";
  return launch_local(lo, std::cerr);
}

// The "next" line's ablation: a key the run's masker has (another masker's keys would be refused), else its type.
std::string ablation_hint(const nlohmann::json& resolved) {
  const nlohmann::json& masker = resolved["components"]["masker"];
  if (masker.contains("num_pred_masks") && masker["num_pred_masks"].is_number_integer()) {
    const bool two = masker["num_pred_masks"].get<std::int64_t>() == 2;
    return std::string("components.masker.num_pred_masks=") + (two ? "4" : "2");
  }
  const bool multiblock = masker.value("type", std::string()) == "multiblock";
  return std::string("components.masker.type=") + (multiblock ? "random" : "multiblock");
}

std::string loss_line(const TrainSummary& s) {
  if (!s.first_loss || !s.final_loss) return "none (no step taken in this session)";
  std::ostringstream os;
  const auto steps = [](std::int64_t n) { return std::to_string(n) + (n == 1 ? " step" : " steps"); };
  os << *s.first_loss << " (first " << steps(s.first_loss_steps) << ") -> " << *s.final_loss << " (last "
     << steps(s.final_loss_steps) << ")";
  return os.str();
}

std::string weights_line(const fs::path& run_dir) {
  const fs::path w = run_dir / "checkpoints" / "latest.safetensors";
  std::error_code ec;
  if (!fs::exists(w, ec)) return "none yet (no checkpoint: no step taken)";
  return w.string() + "  (official key names; Python: safetensors.torch.load_file)";
}

// A word as a shell reads it: quoted only where it needs to be.
std::string shell_word(const std::string& w) {
  const bool plain = !w.empty() && w.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                       "0123456789_./=:,+-@%") == std::string::npos;
  return plain ? w : shell_quote(w);
}

// The command that continues this run: its own arguments (the --set list, --plugin-dir, --nproc of a launch, ...),
// with --out the run and --resume.
std::string continue_command(const std::vector<std::string>& argv, const fs::path& run_dir) {
  std::string cmd = "ijepa train";
  // (argv begins "ijepa train")
  const std::vector<std::string> args(argv.begin() + std::min<std::size_t>(2, argv.size()), argv.end());
  for (const auto& a : without_options(args, {"--out"}, {"--resume"})) cmd += " " + shell_word(a);
  cmd += " --out " + shell_word(run_dir.string()) + " --resume";
  // A rank of a launch this process did not start (torchrun, srun): the same launch, each rank with this command.
  const char* world = std::getenv("WORLD_SIZE");
  if (world != nullptr && std::string(world) != "1" && std::getenv("IJEPA_NPROC") == nullptr) {
    return "the same " + std::string(world) + "-rank launch (torchrun, srun, ...), each rank running: " + cmd;
  }
  return cmd;
}

// "3 epochs", "1 epoch", "0.25 epochs" (a run stopped within an epoch: "0 epochs" said it trained on nothing).
std::string epochs_text(double epochs) {
  const double whole = std::round(epochs);
  if (std::abs(epochs - whole) < 1e-9) {
    return std::to_string(static_cast<std::int64_t>(whole)) + (whole == 1 ? " epoch" : " epochs");
  }
  char buf[32];  // truncated, not rounded: 2.999 epochs must not read as a whole "3.00"
  std::snprintf(buf, sizeof buf, epochs < 0.01 ? "%.2g epochs" : "%.2f epochs",
                epochs < 0.01 ? epochs : std::floor(epochs * 100.0 + 1e-9) / 100.0);
  return buf;
}

void print_summary(const TrainSummary& s, const nlohmann::json& resolved, const fs::path& config_path,
                   const std::vector<std::string>& argv) {
  std::cout << "\n== ijepa train: " << s.state << " ==\n"
            << "  run            " << fs::absolute(s.run_dir).string() << "\n"
            << "  steps          " << s.steps << " (" << epochs_text(s.epochs) << ")\n"
            << "  loss           " << loss_line(s) << "\n"
            << "  time           " << s.seconds << " s, " << s.images_per_s << " images/s\n"
            << "  weights        " << weights_line(s.run_dir) << "\n"
            << "  metrics        " << (s.run_dir / "metrics.jsonl").string() << "  (one JSON object per line)\n"
            << "  next           "
            << (s.state == "completed"
                    ? "an ablation: ijepa train " + config_path.string() + " --set " + ablation_hint(resolved) +
                          " (any key; see ijepa describe KIND/TYPE)"
                    : "continue: " + continue_command(argv, s.run_dir))
            << "\n";
  if (!s.evals.empty()) {
    std::vector<nlohmann::json> recs;
    for (const auto& [where, rec] : s.evals) recs.push_back(rec);
    std::cout << "  evaluation     frozen features at step " << recs.front().value("step", 0)
              << ", top-1 % (eval.jsonl; the random-init encoder has the same architecture and seed)\n";
    print_eval_table(std::cout, recs);
  }
}

TrainOptions train_options(const Args& args, const Argv& argv, const nlohmann::json& resolved,
                           const fs::path& config_path) {
  TrainOptions opts;
  opts.config_path = config_path.string();
  opts.sets = args.all("--set");
  opts.resume = args.flag("--resume");
  opts.quiet = args.flag("--quiet");
  opts.argv = argv;
  // A worker of `--nproc N` records the launch it belongs to (env.json's argv, the "continue" hint).
  if (const char* n = std::getenv("IJEPA_NPROC"); n != nullptr && std::getenv("WORLD_SIZE") != nullptr) {
    opts.argv.insert(opts.argv.begin(), {"--nproc", n});
  }
  opts.argv.insert(opts.argv.begin(), "train");
  opts.argv.insert(opts.argv.begin(), "ijepa");
  if (auto out = args.get("--out")) {
    opts.out = *out;
    // "runs/x/" is the directory runs/x (its empty last name would put the run's temporary folder inside it)
    while (!opts.out.has_filename() && opts.out.has_parent_path() && opts.out != opts.out.root_path()) {
      opts.out = opts.out.parent_path();
    }
  } else {
    if (opts.resume) throw UsageError("--resume needs --out DIR (the run to continue)");
    opts.out = fs::path("runs") / resolved.at("name").get<std::string>() / timestamp();
  }
  return opts;
}

}  // namespace

int cmd_train(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--set", "--out", "--nproc", "--dist-backend", "--dist-timeout", "--bucket-mb"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--resume", "--quiet"});
  Args args(argv, valued, flags);
  if (args.positionals().size() != 1) {
    throw UsageError("usage: ijepa train CONFIG.json [--set a.b=value]... [--out DIR] [--resume] [--nproc N] "
                     "[--dist-backend auto|gloo|nccl] [--dist-timeout SECONDS] [--bucket-mb MB]");
  }
  const fs::path config_path = args.positionals()[0];
  KeyOrigins origins;
  const nlohmann::json layered = load_layered(config_path, &origins);
  for (const auto& s : args.all("--set")) forget_origins(origins, s.substr(0, s.find('=')));
  PluginHost host;
  load_plugins(host, args);
  nlohmann::json resolved;
  try {  // value errors name the file (a base file, an "overrides" entry) that set the key as well as the key
    resolved = resolve_experiment(layered, args.all("--set"), host.registry(), config_path.string());
    // train.init_from's file too where a run starts afresh, in a process of its own or the --nproc launcher (a rank
    // of a launch leaves it to the trainer's rank 0, which tells the others after the rendezvous instead of leaving
    // them to wait for it).
    const char* world = std::getenv("WORLD_SIZE");
    check_before_training(resolved, args.all("--set"),
                          !args.flag("--resume") && (world == nullptr || std::string(world) == "1"));
  } catch (const ConfigError& e) {
    throw ConfigError(located_error(e.what(), origins, config_path.string()));
  }
  TrainOptions opts = train_options(args, argv, resolved, config_path);
  // Distributed: --nproc N starts N local workers of this command; a worker (or a torchrun/SLURM-launched process)
  // finds RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in its environment.
  const DistOptions d = dist_options(args, resolved, opts);
  std::optional<DistEnv> denv;
  try {
    denv = dist_env_from_environment();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (d.nproc > 1) {
    if (denv) throw UsageError("--nproc starts its own workers; it cannot be used inside a launch (WORLD_SIZE is set)");
    return launch_workers(argv, d, opts);
  }
  if (denv && denv->world > 1) opts.pg = ProcessGroup::connect(*denv, d.backend, std::chrono::seconds(d.timeout_s));
  TrainSummary s;
  try {
    s = run_training(resolved, host, opts);
  } catch (const c10::OutOfMemoryError& e) {  // before the first step (the step loop words its own)
    throw std::runtime_error(
        util::out_of_memory_message(resolved["train"]["device"].get<std::string>(), -1, e.what_without_backtrace()));
  } catch (const ConfigError& e) {
    // A component that rejects its config when it is built (a masker that cannot fit the grid, a ViT too large):
    // the --set or the file that set the key it names first. Only errors that begin with a key ("components.masker:
    // …", "train.epochs: …"), not those of --resume or of the run directory.
    const std::string what = e.what();
    const std::string head = what.substr(0, what.find(": "));
    const bool about_a_key = head.find('.') != std::string::npos && head.find_first_of(" /") == std::string::npos &&
                             head.rfind("--", 0) != 0;
    if (!about_a_key) throw;
    throw ConfigError(locate_config_error(what, args.all("--set"), origins));
  }
  if (opts.pg && opts.pg->rank() != 0) return s.state == "completed" ? 0 : 130;  // rank 0 reports
  print_summary(s, resolved, config_path, opts.argv);
  return s.state == "completed" ? 0 : 130;
}

}  // namespace ijepa::host::cli
