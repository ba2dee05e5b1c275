// `ijepa train CONFIG.json [--set a.b=value]... [--out DIR] [--resume]`
#include <chrono>
#include <ctime>
#include <iostream>

#include "cli/commands.hpp"
#include "config/experiment.hpp"
#include "config/json_file.hpp"
#include "run/trainer.hpp"

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
}  // namespace

int cmd_train(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--set", "--out"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--resume", "--quiet"});
  Args args(argv, valued, flags);
  if (args.positionals().size() != 1) {
    throw UsageError("usage: ijepa train CONFIG.json [--set a.b=value]... [--out DIR] [--resume]");
  }
  const fs::path config_path = args.positionals()[0];
  const nlohmann::json layered = load_layered(config_path);
  PluginHost host;
  load_plugins(host, args);
  const std::vector<std::string> sets = args.all("--set");
  const nlohmann::json resolved = resolve_experiment(layered, sets, host.registry(), config_path.string());

  TrainOptions opts;
  opts.config_path = config_path.string();
  opts.sets = sets;
  opts.resume = args.flag("--resume");
  opts.quiet = args.flag("--quiet");
  opts.argv = argv;
  opts.argv.insert(opts.argv.begin(), "train");
  opts.argv.insert(opts.argv.begin(), "ijepa");
  if (auto out = args.get("--out")) {
    opts.out = *out;
  } else {
    if (opts.resume) throw UsageError("--resume needs --out DIR (the run to continue)");
    opts.out = fs::path("runs") / resolved.at("name").get<std::string>() / timestamp();
  }
  const TrainSummary s = run_training(resolved, host, opts);

  std::cout << "\n== ijepa train: " << s.state << " ==\n"
            << "  run            " << fs::absolute(s.run_dir).string() << "\n"
            << "  steps          " << s.steps << " (" << s.epochs << " epochs)\n"
            << "  loss           " << s.first_loss << " (first " << resolved["train"]["log_every"] << " steps) -> "
            << s.final_loss << " (last " << resolved["train"]["log_every"] << " steps)\n"
            << "  time           " << s.seconds << " s, " << s.images_per_s << " images/s\n"
            << "  weights        " << (s.run_dir / "checkpoints" / "latest.safetensors").string()
            << "  (official key names; Python: safetensors.torch.load_file)\n"
            << "  metrics        " << (s.run_dir / "metrics.jsonl").string() << "  (one JSON object per line)\n"
            << "  next           "
            << (s.state == "completed"
                    ? "an ablation: ijepa train " + config_path.string() +
                          " --set components.masker.num_pred_masks=2 (any key; see ijepa describe KIND/TYPE)"
                    : "continue: ijepa train " + config_path.string() + " --out " + s.run_dir.string() + " --resume")
            << "\n";
  if (!s.evals.empty()) {
    std::vector<nlohmann::json> recs;
    for (const auto& [where, rec] : s.evals) recs.push_back(rec);
    std::cout << "  evaluation     frozen features at step " << recs.front().value("step", 0)
              << ", top-1 % (eval.jsonl; the random-init encoder has the same architecture and seed)\n";
    print_eval_table(std::cout, recs);
  }
  return s.state == "completed" ? 0 : 130;
}

}  // namespace ijepa::host::cli
