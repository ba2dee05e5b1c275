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

#include "build_config.hpp"
#include "cli/bench_util.hpp"
#include "cli/commands.hpp"
#include "data/dataset.hpp"
#include "data/loader.hpp"
#include "log/logging.hpp"
#include "plugins/registry.hpp"

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
  std::int64_t images = 0, batches = 0;
  double seconds = 0.0;
  double images_per_s() const { return seconds > 0 ? static_cast<double>(images) / seconds : 0.0; }
};

}  // namespace

int cmd_bench_data(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--source", "--root", "--image-size", "--workers", "--seconds", "--batches", "--batch", "--patch",
                 "--warmup", "--seed", "--baseline"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert("--masks");
  Args args(argv, valued, flags);
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  const std::string source = args.require("--source");
  const std::string root = args.get("--root").value_or("");
  (void)args.require("--image-size");
  (void)args.require("--workers");
  const std::int64_t image_size = int_at_least(args, "--image-size", 0, 1);
  const std::int64_t workers = int_at_least(args, "--workers", 0, 1);
  const std::int64_t batch = int_at_least(args, "--batch", 64, 1);
  const std::int64_t warmup = int_at_least(args, "--warmup", 2, 0);
  const std::int64_t fixed_batches = int_at_least(args, "--batches", 0, 0);  // 0: time --seconds instead
  const std::int64_t seed = int_at_least(args, "--seed", 0, 0);
  const bool masks = args.flag("--masks");
  const std::int64_t patch = int_at_least(args, "--patch", 16, 1);
  if (args.get("--patch") && !masks) throw UsageError("--patch only applies with --masks");
  double seconds = 10.0;
  if (auto s = args.get("--seconds")) {
    std::size_t used = 0;
    try {
      seconds = std::stod(*s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s->size() || !(seconds > 0.0)) throw UsageError("--seconds: expected a number > 0, got '" + *s + "'");
  }
  if (fixed_batches > 0 && args.get("--seconds")) throw UsageError("--seconds and --batches exclude each other");
  const std::string baseline = args.get("--baseline").value_or("");
  if (!baseline.empty() && baseline != "torchvision")
    throw UsageError("--baseline: only 'torchvision' is supported, got '" + baseline + "'");
  if (masks && image_size % patch != 0)
    throw UsageError("--patch " + std::to_string(patch) + " does not divide --image-size " + std::to_string(image_size));

  // The data section: the experiment defaults with the source, root and crop size of this run.
  nlohmann::json data_cfg = data_defaults();
  data_cfg["source"] = source;
  data_cfg["root"] = root;
  data_cfg["image_size"] = image_size;
  const std::shared_ptr<Dataset> dataset = open_dataset(data_cfg, "train");

  // The image folder both sides read (after extraction); empty for sources without image files.
  std::string folder;
  if (source == "image_folder") {
    folder = fs::absolute(root).string();
  } else if (const ArchiveSpec* spec = archive_spec(source)) {
    folder = (fs::path(archive_root(*spec, root)) / "train").string();
  }

  PluginHost host;
  std::shared_ptr<sdk::Masker> masker;
  std::string masker_desc = "no masks";
  if (masks) {
    load_plugins(host, args);
    sdk::BuildContext ctx;
    ctx.host = logging::host_services();
    ctx.seed = static_cast<std::uint64_t>(seed);
    ctx.image_size = image_size;
    ctx.patch_size = patch;
    ctx.grid = sdk::PatchGrid{image_size / patch, image_size / patch};
    const auto m = host.registry().make_masker({{"type", "multiblock"}}, ctx, "--masks");
    masker = m.ptr;
    masker_desc = "masks multiblock (plugin " + m.plugin_id + ", patch " + std::to_string(patch) + ")";
  }

  DataLoaderOptions lo;
  lo.batch_size = batch;
  lo.image_size = image_size;
  lo.crop_scale_lo = 0.3;
  lo.crop_scale_hi = 1.0;
  lo.seed = static_cast<std::uint64_t>(seed);
  lo.workers = workers;
  lo.drop_last = true;
  lo.masker_tag = "plugin masker: multiblock";

  std::cout << "bench data: " << dataset->describe() << "\n"
            << "  " << image_size << " px, batch " << batch << ", " << workers << " worker(s), RandomResizedCrop scale "
            << "0.3-1.0, ImageNet normalise, " << masker_desc << "\n"
            << "  machine: " << std::thread::hardware_concurrency() << " CPU(s), load average " << load_average()
            << " (at start)\n"
            << "  timing: " << (fixed_batches > 0 ? std::to_string(fixed_batches) + " batches" : fmt(seconds) + " s")
            << " after " << warmup << " warm-up batch(es)" << std::endl;

  Measure cpp;
  std::int64_t skipped = 0;
  {
    Loader loader(dataset, masker, lo, 0);
    for (std::int64_t i = 0; i < warmup; ++i) (void)loader.next();
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    double elapsed = 0.0;
    while (fixed_batches > 0 ? cpp.batches < fixed_batches : elapsed < seconds) {
      const Batch b = loader.next();
      cpp.images += b.images.size(0);
      ++cpp.batches;
      elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    }
    cpp.seconds = elapsed;
    skipped = loader.skip_stats().skipped;
  }  // the loader's workers stop here, before the baseline starts
  std::cout << "C++ loader     : " << fmt(cpp.images_per_s(), 5) << " images/s (" << cpp.images << " images, "
            << cpp.batches << " batches in " << fmt(cpp.seconds) << " s; " << skipped
            << " unreadable images replaced)" << std::endl;

  if (baseline.empty()) return 0;
  if (folder.empty()) {
    std::cout << "baseline torchvision: not applicable to source '" << source
              << "' (no image files; only image_folder, cifar10_jpeg and imagenette)" << std::endl;
    return 0;
  }
  const std::string python = IJEPA_PYTHON_EXE;
  std::error_code ec;
  if (python.empty() || !fs::exists(python, ec))
    throw std::runtime_error("--baseline torchvision: no Python interpreter (IJEPA_PYTHON_EXE '" + python + "')");
  const fs::path script = baseline_script();
  if (!fs::exists(script, ec)) throw std::runtime_error("--baseline torchvision: " + script.string() + " not found");
  const fs::path out_json =
      fs::temp_directory_path() / ("ijepa_bench_data_" + std::to_string(::getpid()) + ".json");
  std::ostringstream cmd;
  cmd << shell_quote(python) << " " << shell_quote(script.string()) << " --root " << shell_quote(folder)
      << " --image-size " << image_size << " --workers " << workers << " --batch " << batch << " --warmup " << warmup
      << " --seed " << seed << " --out " << shell_quote(out_json.string());
  if (fixed_batches > 0) {
    cmd << " --batches " << fixed_batches;
  } else {
    cmd << " --seconds " << seconds;
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
  return 0;
}

}  // namespace ijepa::host::cli
