// `ijepa bench data --source SOURCE [--root PATH] --image-size N --workers W [--seconds S | --batches K] [--batch B]
//                   [--masks [--patch P]] [--warmup K] [--seed X] [--baseline torchvision]`
// Images/s of the data Loader: decode + RandomResizedCrop(scale 0.3-1.0) + normalise (+ multiblock masks with
// --masks, sampled in the loader), warm-up batches excluded. With --baseline torchvision it then runs
// bench/data_baseline.py (torchvision ImageFolder + DataLoader, the same transform, workers and batch) on the same
// image folder and prints the C++/torchvision images/s ratio. Recorded numbers: docs/benchmarks.md ("Data pipeline").
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/build_config.hpp"
#include "cli/bench_util.hpp"
#include "cli/commands.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/loader_config.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace fs = std::filesystem;

namespace ijepa::host::cli {

namespace {


std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  if (!(in >> a >> b >> c)) return "unknown";
  return fmt(a, 3) + " " + fmt(b, 3) + " " + fmt(c, 3);
}

// The baseline script: next to the source tree's bench/ (IJEPA_SOURCE_DIR), else bench/ under the working directory.
fs::path baseline_script() {
  const fs::path src = fs::path(IJEPA_SOURCE_DIR) / "bench" / "data_baseline.py";
  std::error_code ec;
  if (fs::exists(src, ec)) return src;
  return fs::current_path(ec) / "bench" / "data_baseline.py";
}

struct Measure {
  std::int64_t images = 0, batches = 0, skipped = 0;
  double seconds = 0.0;
  double images_per_s() const { return seconds > 0 ? static_cast<double>(images) / seconds : 0.0; }
};

struct BenchDataOptions {
  std::string source, root, baseline, cache_dir;
  std::int64_t image_size = 0, workers = 0, batch = 64, warmup = 2, fixed_batches = 0, seed = 0, patch = 16;
  bool masks = false;
  double seconds = 10.0;
};

BenchDataOptions parse_bench_data(const Args& args) {
  BenchDataOptions o;
  o.source = args.require("--source");
  o.root = args.get("--root").value_or("");
  o.cache_dir = args.get("--cache-dir").value_or("");
  (void)args.require("--image-size");
  (void)args.require("--workers");
  o.image_size = int_at_least(args, "--image-size", 0, 1);
  o.workers = int_at_least(args, "--workers", 0, 1);
  o.batch = int_at_least(args, "--batch", 64, 1);
  o.warmup = int_at_least(args, "--warmup", 2, 0);
  o.fixed_batches = int_at_least(args, "--batches", 0, 0);  // 0: time --seconds instead
  o.seed = int_at_least(args, "--seed", 0, 0);
  o.masks = args.flag("--masks");
  o.patch = int_at_least(args, "--patch", 16, 1);
  if (args.get("--patch") && !o.masks) throw UsageError("--patch only applies with --masks");
  if (auto s = args.get("--seconds")) {
    std::size_t used = 0;
    try {
      o.seconds = std::stod(*s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s->size() || !(o.seconds > 0.0)) throw UsageError("--seconds: expected a number > 0, got '" + *s + "'");
  }
  if (o.fixed_batches > 0 && args.get("--seconds")) throw UsageError("--seconds and --batches exclude each other");
  o.baseline = args.get("--baseline").value_or("");
  if (!o.baseline.empty() && o.baseline != "torchvision")
    throw UsageError("--baseline: only 'torchvision' is supported, got '" + o.baseline + "'");
  if (o.masks && o.image_size % o.patch != 0)
    throw UsageError("--patch " + std::to_string(o.patch) + " does not divide --image-size " + std::to_string(o.image_size));
  return o;
}

// The experiment defaults with this run's source, root, crop size, workers, batch and seed: the loader's options come
// from it through the same mapping as `ijepa train`'s.
nlohmann::json bench_config(const BenchDataOptions& o) {
  nlohmann::json cfg = experiment_defaults();
  cfg["seed"] = o.seed;
  cfg["data"]["source"] = o.source;
  cfg["data"]["root"] = o.root;
  cfg["data"]["cache_dir"] = o.cache_dir;
  cfg["data"]["image_size"] = o.image_size;
  cfg["data"]["workers"] = o.workers;
  cfg["data"]["crop_scale"] = {0.3, 1.0};
  cfg["train"]["batch_size"] = o.batch;
  return cfg;
}

// The image folder both sides read (after extraction); empty for sources without image files.
std::string image_folder(const BenchDataOptions& o) {
  if (o.source == "image_folder") return fs::absolute(o.root).string();
  if (const ArchiveSpec* spec = archive_spec(o.source)) return (fs::path(archive_root(*spec, o.root)) / "train").string();
  return "";
}

Measure time_loader(const BenchDataOptions& o, std::shared_ptr<const Dataset> dataset,
                    std::shared_ptr<sdk::Masker> masker, const DataLoaderOptions& lo) {
  Measure m;
  Loader loader(std::move(dataset), std::move(masker), lo, 0);
  for (std::int64_t i = 0; i < o.warmup; ++i) (void)loader.next();
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  double elapsed = 0.0;
  while (o.fixed_batches > 0 ? m.batches < o.fixed_batches : elapsed < o.seconds) {
    const Batch b = loader.next();
    m.images += b.images.size(0);
    ++m.batches;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  }
  m.seconds = elapsed;
  m.skipped = loader.skip_stats().skipped;
  return m;  // the loader's workers stop here, before the baseline starts
}

// Runs bench/data_baseline.py on the same folder, transform, workers and batch; prints its figures and the ratio.
void torchvision_baseline(const BenchDataOptions& o, const std::string& folder, const Measure& cpp) {
  const std::string python = IJEPA_PYTHON_EXE;
  std::error_code ec;
  if (python.empty() || !fs::exists(python, ec))
    throw std::runtime_error("--baseline torchvision: no Python interpreter (IJEPA_PYTHON_EXE '" + python + "')");
  const fs::path script = baseline_script();
  if (!fs::exists(script, ec)) throw std::runtime_error("--baseline torchvision: " + script.string() + " not found");
  const fs::path out_json = fs::temp_directory_path() / ("ijepa_bench_data_" + std::to_string(::getpid()) + ".json");
  std::ostringstream cmd;
  cmd << shell_quote(python) << " " << shell_quote(script.string()) << " --root " << shell_quote(folder)
      << " --image-size " << o.image_size << " --workers " << o.workers << " --batch " << o.batch << " --warmup "
      << o.warmup << " --seed " << o.seed << " --out " << shell_quote(out_json.string());
  if (o.fixed_batches > 0) {
    cmd << " --batches " << o.fixed_batches;
  } else {
    cmd << " --seconds " << o.seconds;
  }
  const auto [rc, output] = run_capture(cmd.str());
  nlohmann::json res;
  {
    std::ifstream in(out_json);
    if (rc != 0 || !in) {
      fs::remove(out_json, ec);
      throw std::runtime_error("torchvision baseline failed (exit " + std::to_string(rc) + "): " + last_line(output));
    }
    res = nlohmann::json::parse(in);
  }
  fs::remove(out_json, ec);
  const double py_ips = res.at("images_per_s").get<double>();
  std::cout << "torchvision    : " << fmt(py_ips, 5) << " images/s (" << res.at("images").get<std::int64_t>()
            << " images, " << res.at("batches").get<std::int64_t>() << " batches in "
            << fmt(res.at("seconds").get<double>()) << " s; torch " << res.value("torch", std::string("?"))
            << ", torchvision " << res.value("torchvision", std::string("?")) << ", " << res.value("images_in_folder", 0)
            << " images)" << std::endl;
  std::cout << "C++/torchvision images/s = " << (py_ips > 0 ? fmt(cpp.images_per_s() / py_ips, 3) : "inf")
            << std::endl;
}

}  // namespace

int cmd_bench_data(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--source", "--root", "--image-size", "--workers", "--seconds", "--batches", "--batch", "--patch",
                 "--warmup", "--seed", "--baseline", "--cache-dir"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert("--masks");
  Args args(argv, valued, flags);
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  const BenchDataOptions o = parse_bench_data(args);
  const nlohmann::json cfg = bench_config(o);
  const std::shared_ptr<Dataset> dataset = open_dataset(cfg.at("data"), "train");
  DataLoaderOptions lo = loader_options(cfg, 0, 1, /*pin_memory=*/false);
  PluginHost host;
  std::shared_ptr<sdk::Masker> masker;
  std::string masker_desc = "no masks";
  if (o.masks) {
    load_plugins(host, args);
    const sdk::BuildContext ctx = build_context(o.image_size, o.patch, static_cast<std::uint64_t>(o.seed));
    const auto m = host.registry().make_masker({{"type", "multiblock"}}, ctx, "--masks");
    lo.num_patches = ctx.grid.count();
    masker = m.ptr;
    masker_desc = "masks multiblock (plugin " + m.plugin_id + ", patch " + std::to_string(o.patch) + ")";
    lo.masker_tag = "plugin " + m.plugin_id + ": multiblock";
  }
  std::cout << "bench data: " << dataset->describe() << "\n"
            << "  " << o.image_size << " px, batch " << o.batch << ", " << o.workers
            << " worker(s), RandomResizedCrop scale 0.3-1.0, ImageNet normalise, " << masker_desc << "\n"
            << "  machine: " << std::thread::hardware_concurrency() << " CPU(s), load average " << load_average()
            << " (at start)\n"
            << "  timing: " << (o.fixed_batches > 0 ? std::to_string(o.fixed_batches) + " batches" : fmt(o.seconds) + " s")
            << " after " << o.warmup << " warm-up batch(es)" << std::endl;
  const Measure cpp = time_loader(o, dataset, masker, lo);
  std::cout << "C++ loader     : " << fmt(cpp.images_per_s(), 5) << " images/s (" << cpp.images << " images, "
            << cpp.batches << " batches in " << fmt(cpp.seconds) << " s; " << cpp.skipped
            << " unreadable images replaced)" << std::endl;
  if (o.baseline.empty()) return 0;
  const std::string folder = image_folder(o);
  if (folder.empty()) {
    std::cout << "baseline torchvision: not applicable to source '" << o.source
              << "' (no image files; only image_folder, cifar10_jpeg and imagenette)" << std::endl;
    return 0;
  }
  torchvision_baseline(o, folder, cpp);
  return 0;
}

}  // namespace ijepa::host::cli
