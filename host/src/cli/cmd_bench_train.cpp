// `ijepa bench train --model M --patch P --image-size N --batch B [--steps S] [--warmup W] [--device cpu|cuda]
//                    [--baseline python] [--pred-depth D] [--pred-dim D] [--threads T] [--seed X]`
// Times steady-state JepaModel::train_step (warm-up excluded, median of the timed steps), reports images/s, peak
// memory and model-FLOP utilisation against a matmul rate measured in the same run; with --baseline python it runs
// bench/train_baseline.py (PyTorch eager, written like the official code) on the same images, masks and initial
// weights and prints the C++/Python images/s ratio. Formula and recorded numbers: docs/benchmarks.md.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench/flops.hpp"
#include "bench/matmul_rate.hpp"
#include "bench/profile.hpp"
#include "bench/step_clock.hpp"
#include "build_config.hpp"
#include "cli/bench_util.hpp"
#include "cli/commands.hpp"
#include "config/experiment.hpp"
#include "data/dataset.hpp"
#include "data/loader.hpp"
#include "io/safetensors.hpp"
#include "log/logging.hpp"
#include "run/trainer.hpp"
#include "util/cuda_info.hpp"

#if IJEPA_TORCH_HAS_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace fs = std::filesystem;

namespace ijepa::host::cli {

namespace {

constexpr const char* kUsage =
    "usage: ijepa bench train --model vit_tiny|vit_small|vit_base|vit_large|vit_huge --patch P --image-size N "
    "--batch B [--steps S] [--warmup W] [--device cpu|cuda] [--baseline python] [--pred-depth D] [--pred-dim D] "
    "[--threads T] [--seed X] [--cpu-bf16 [--baseline-fp32]] [--profile TRACE.json] [--attention auto|sdpa|explicit] "
    "[--linear auto|aten] [--sync-each-step]";

// Python gets the initial weights only below this many parameters (encoder + predictor); larger models would
// write gigabytes to the temp directory, and the timing does not depend on the values.
constexpr std::int64_t kMaxSharedParams = 120'000'000;

std::string mib(double bytes) { return fmt(bytes / (1024.0 * 1024.0), 5) + " MiB"; }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Peak resident set of this process in bytes (getrusage ru_maxrss, KiB on Linux).
double peak_rss_bytes() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

struct CudaPeak {
  double allocated = 0.0, reserved = 0.0;
};

void reset_cuda_peak([[maybe_unused]] const at::Device& d) {
#if IJEPA_TORCH_HAS_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(d.has_index() ? d.index() : 0);
#endif
}

CudaPeak cuda_peak([[maybe_unused]] const at::Device& d) {
  CudaPeak p;
#if IJEPA_TORCH_HAS_CUDA
  if (d.is_cuda()) {
    const auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(d.has_index() ? d.index() : 0);
    constexpr auto agg = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    p.allocated = static_cast<double>(st.allocated_bytes[agg].peak);
    p.reserved = static_cast<double>(st.reserved_bytes[agg].peak);
  }
#endif
  return p;
}

// Hands the caching allocator's free blocks back to the driver (the Python baseline runs in another process on the
// same card and needs them: a ViT-H/14 step at batch 128 would not fit twice).
void release_cuda_cache([[maybe_unused]] const at::Device& d) {
#if IJEPA_TORCH_HAS_CUDA
  if (d.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

// Removes the temp directory on every exit path.
struct TempDir {
  fs::path path;
  bool keep = false;
  ~TempDir() {
    std::error_code ec;
    if (!keep && !path.empty()) fs::remove_all(path, ec);
  }
};


}  // namespace

int cmd_bench_train(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--model", "--patch", "--image-size", "--batch", "--steps", "--warmup", "--device", "--baseline",
                 "--pred-depth", "--pred-dim", "--threads", "--seed", "--profile", "--attention", "--linear"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--keep-inputs", "--cpu-bf16", "--baseline-fp32", "--sync-each-step"});
  Args args(argv, valued, flags);
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'; " + kUsage);
  if (!args.get("--model") || !args.get("--patch") || !args.get("--image-size") || !args.get("--batch")) {
    throw UsageError(kUsage);
  }

  // ---- options -------------------------------------------------------------------------------------------------
  const std::string model_name = args.require("--model");
  const bench::VitPresetShape* preset = bench::find_bench_preset(model_name);
  if (preset == nullptr) {
    std::string valid;
    for (const auto& p : bench::bench_presets()) valid += std::string(valid.empty() ? "" : ", ") + p.name;
    throw UsageError("--model: unknown model '" + model_name + "' (valid: " + valid + ")");
  }
  const std::int64_t patch = int_at_least(args, "--patch", 0, 1);
  const std::int64_t image_size = int_at_least(args, "--image-size", 0, 1);
  if (image_size % patch != 0) {
    throw UsageError("--patch " + std::to_string(patch) + " does not divide --image-size " + std::to_string(image_size));
  }
  const std::int64_t batch = int_at_least(args, "--batch", 0, 1);
  const std::int64_t steps = int_at_least(args, "--steps", 10, 1);
  const std::int64_t warmup = int_at_least(args, "--warmup", 3, 0);
  const bool pred_depth_default = !args.get("--pred-depth");
  const bool pred_dim_default = !args.get("--pred-dim");
  const std::int64_t pred_depth = int_at_least(args, "--pred-depth", bench::default_pred_depth(model_name), 1);
  const std::int64_t pred_dim = int_at_least(args, "--pred-dim", bench::default_pred_dim(model_name), 4);
  const std::int64_t threads_arg = int_at_least(args, "--threads", 0, 0);
  const std::int64_t seed = int_at_least(args, "--seed", 0, 0);
  const std::string device_str = args.get("--device").value_or("cpu");
  if (device_str != "cpu" && device_str.rfind("cuda", 0) != 0) {
    throw UsageError("--device: expected cpu or cuda (cuda:N), got '" + device_str + "'");
  }
  if (device_str != "cpu" && !util::cuda_available()) {
    throw std::runtime_error("--device " + device_str + ": CUDA is not available on this machine");
  }
  const bool cpu_bf16 = args.flag("--cpu-bf16");
  if (cpu_bf16 && device_str != "cpu") throw UsageError("--cpu-bf16 is for --device cpu (CUDA always autocasts to bf16)");
  // --baseline-fp32: with --cpu-bf16, the baseline stays in fp32, as the official code runs on a CPU (its
  // torch.cuda.amp.autocast does nothing there): the product's opt-in against the official code as it is.
  const bool baseline_fp32 = args.flag("--baseline-fp32");
  if (baseline_fp32 && !cpu_bf16) throw UsageError("--baseline-fp32 goes with --cpu-bf16 (without it both sides run fp32)");
  const bool python_cpu_bf16 = cpu_bf16 && !baseline_fp32;
  // A/B switches for the pieces of the step (docs/benchmarks.md): the ViT plugins' attention and linear kernels, and
  // a host read of the loss after every step (what the trainer did before it read losses at sync points only).
  const std::string attention = args.get("--attention").value_or("auto");
  if (attention != "auto" && attention != "sdpa" && attention != "explicit") {
    throw UsageError("--attention: expected auto, sdpa or explicit, got '" + attention + "'");
  }
  const std::string linear = args.get("--linear").value_or("auto");
  if (linear != "auto" && linear != "aten") throw UsageError("--linear: expected auto or aten, got '" + linear + "'");
  const bool sync_each_step = args.flag("--sync-each-step");
  const std::string baseline = args.get("--baseline").value_or("");
  if (!baseline.empty() && baseline != "python") {
    throw UsageError("--baseline: the only baseline is 'python', got '" + baseline + "'");
  }
  // --profile: Chrome traces of the timed steps (C++ at the path, the baseline beside it as <stem>.python.json).
  const std::string profile = args.get("--profile").value_or("");
  fs::path profile_cpp, profile_python;
  if (!profile.empty()) {
    profile_cpp = fs::absolute(profile);
    std::error_code pec;
    if (!fs::is_directory(profile_cpp.parent_path(), pec)) {
      throw UsageError("--profile " + profile + ": the folder " + profile_cpp.parent_path().string() +
                       " does not exist");
    }
    profile_python = profile_cpp.parent_path() / (profile_cpp.stem().string() + ".python.json");
  }
  const fs::path python = IJEPA_PYTHON_EXE;
  const fs::path script = fs::path(IJEPA_SOURCE_DIR) / "bench" / "train_baseline.py";
  if (!baseline.empty()) {
    std::error_code ec;
    if (python.empty() || !fs::exists(python, ec)) {
      throw std::runtime_error("--baseline python: no Python interpreter configured (IJEPA_PYTHON at configure time: '" +
                               python.string() + "')");
    }
    if (!fs::exists(script, ec)) throw std::runtime_error("--baseline python: " + script.string() + " is missing");
  }

  if (threads_arg > 0) at::set_num_threads(static_cast<int>(threads_arg));
  const int threads = at::get_num_threads();

  // ---- model -----------------------------------------------------------------------------------------------------
  PluginHost host;
  load_plugins(host, args);
  nlohmann::json cfg = experiment_defaults();
  cfg["name"] = "bench-train";
  cfg["seed"] = seed;
  const std::int64_t total = warmup + steps;
  cfg["data"]["source"] = "synthetic";
  cfg["data"]["image_size"] = image_size;
  cfg["data"]["synthetic_count"] = batch * std::min<std::int64_t>(total, 64);
  cfg["data"]["workers"] = 1;
  cfg["components"]["encoder"] = {{"type", "vit"},          {"preset", model_name}, {"patch_size", patch},
                                  {"img_size", image_size}, {"attention", attention}, {"linear", linear}};
  cfg["components"]["predictor"] = {
      {"type", "vit_predictor"}, {"embed_dim", pred_dim}, {"depth", pred_depth}, {"attention", attention},
      {"linear", linear}};
  cfg["train"]["device"] = device_str;
  cfg["train"]["threads"] = threads;
  cfg["train"]["batch_size"] = batch;
  cfg["train"]["bf16"] = true;
  cfg["train"]["cpu_bf16"] = cpu_bf16;
  nlohmann::json resolved = resolve_experiment(cfg, {}, host.registry(), "ijepa bench train");
  // The official min_keep 10 is unreachable on small grids (the masker rejects it): use the largest that fits.
  std::int64_t min_keep = resolved["components"]["masker"]["min_keep"].get<std::int64_t>();
  {
    sdk::BuildContext ctx;
    ctx.host = logging::host_services();
    ctx.seed = static_cast<std::uint64_t>(seed);
    ctx.image_size = image_size;
    ctx.patch_size = patch;
    ctx.grid = {image_size / patch, image_size / patch};
    for (std::int64_t k = min_keep; k >= 0; --k) {
      nlohmann::json mc = resolved["components"]["masker"];
      mc["min_keep"] = k;
      try {
        (void)host.registry().make_masker(mc, ctx, "components.masker");
        min_keep = k;
        break;
      } catch (const std::exception&) {
        if (k == 0) throw;
      }
    }
    cfg["components"]["masker"]["min_keep"] = min_keep;
    resolved = resolve_experiment(cfg, {}, host.registry(), "ijepa bench train");
  }
  auto model = std::make_unique<JepaModel>(resolved, host.registry());  // freed before the Python baseline runs
  const at::Device device = model->device();
  Schedules sched;  // official values; a long schedule so every benchmarked step is in the warm-up ramp
  sched.warmup_steps = 1000;
  sched.total_steps = 10000;
  sched.ema_steps = 10000.0;
  model->set_schedules(sched);
  const std::int64_t n_params = model->parameter_count(false);

  // ---- inputs: every batch is built before timing (loader work is not part of the step) -------------------------
  std::vector<Batch> batches;
  {
    auto dataset = open_dataset(resolved.at("data"), "train");
    DataLoaderOptions lo;
    lo.batch_size = batch;
    lo.image_size = image_size;
    lo.seed = static_cast<std::uint64_t>(seed);
    lo.workers = 1;
    lo.prefetch = 1;
    lo.pin_memory = device.is_cuda();  // as the trainer's loader (and the official DataLoader) do
    lo.masker_tag = "plugin " + model->masker().plugin_id + ": " + model->masker().type;
    Loader loader(dataset, model->masker().ptr, lo, 0);
    for (std::int64_t i = 0; i < total; ++i) batches.push_back(loader.make_batch(i));
  }
  at::set_num_threads(threads);  // the loader's worker thread sets its own count; restore ours

  TempDir tmp;
  tmp.keep = args.flag("--keep-inputs");
  const bool share_weights = n_params <= kMaxSharedParams;
  if (!baseline.empty()) {
    tmp.path = fs::temp_directory_path() / ("ijepa_bench_train_" + std::to_string(::getpid()));
    fs::create_directories(tmp.path);
    TensorMap t;
    if (share_weights) t = model->weights();  // initial weights, official key names (encoder.*, predictor.*, ...)
    at::Tensor sc = at::empty({total, 3}, at::kDouble);
    for (std::int64_t i = 0; i < total; ++i) {
      const Batch& b = batches[static_cast<std::size_t>(i)];
      const std::string k = std::to_string(i);
      t["images." + k] = b.images;
      for (std::size_t j = 0; j < b.masks.context.size(); ++j) t["masks_enc." + k + "." + std::to_string(j)] = b.masks.context[j];
      for (std::size_t j = 0; j < b.masks.target.size(); ++j) t["masks_pred." + k + "." + std::to_string(j)] = b.masks.target[j];
      sc[i][0] = sched.lr(i + 1);
      sc[i][1] = sched.wd(i + 1);
      sc[i][2] = sched.ema(i);
    }
    t["schedule"] = sc;
    const StringMap meta{{"model", model_name},
                         {"patch", std::to_string(patch)},
                         {"image_size", std::to_string(image_size)},
                         {"batch", std::to_string(batch)},
                         {"pred_depth", std::to_string(pred_depth)},
                         {"pred_dim", std::to_string(pred_dim)},
                         {"steps", std::to_string(steps)},
                         {"warmup", std::to_string(warmup)},
                         {"device", device.str()},
                         {"threads", std::to_string(threads)},
                         {"seed", std::to_string(seed)},
                         {"nenc", std::to_string(batches[0].masks.context.size())},
                         {"npred", std::to_string(batches[0].masks.target.size())},
                         {"weights", share_weights ? "1" : "0"},
                         {"cpu_bf16", python_cpu_bf16 ? "1" : "0"},
                         {"profile", profile_python.string()}};
    write_safetensors((tmp.path / "inputs.safetensors").string(), t, meta);
  }

  // ---- C++ timing -------------------------------------------------------------------------------------------------
  reset_cuda_peak(device);
  std::vector<double> times;
  std::vector<double> step_flops;
  std::vector<double> losses;
  std::int64_t kmin_enc = INT64_MAX, kmax_enc = 0, kmin_pred = INT64_MAX, kmax_pred = 0;
  bench::StepShape shape;
  shape.batch = batch;
  shape.image_size = image_size;
  shape.patch = patch;
  shape.encoder = {preset->dim, preset->depth, preset->heads, 4 * preset->dim};
  shape.predictor = {pred_dim, pred_depth, preset->heads, 4 * pred_dim};
  std::optional<bench::StepProfiler> profiler;
  if (!profile.empty()) profiler.emplace(profile_cpp.string(), device.is_cuda());
  // No synchronisation inside the loop (the trainer reads no loss on the host either): step times come from
  // StepClock marks, CUDA events on the GPU.
  bench::synchronize(device);
  bench::StepClock clock(device);
  std::vector<JepaModel::StepResult> results;
  for (std::int64_t i = 0; i < total; ++i) {
    const Batch& b = batches[static_cast<std::size_t>(i)];
    if (profiler && i == warmup) profiler->start();
    clock.mark();
    results.push_back(model->train_step(b, i));
    if (sync_each_step) (void)results.back().loss_value();
  }
  clock.mark();
  const std::vector<double> step_s = clock.seconds();
  for (std::int64_t i = 0; i < total; ++i) {
    const JepaModel::StepResult& r = results[static_cast<std::size_t>(i)];
    const Batch& b = batches[static_cast<std::size_t>(i)];
    losses.push_back(r.loss_value());
    if (i < warmup) continue;
    times.push_back(step_s[static_cast<std::size_t>(i)]);
    shape.nenc = static_cast<std::int64_t>(b.masks.context.size());
    shape.npred = static_cast<std::int64_t>(b.masks.target.size());
    shape.k_enc = r.k_enc;
    shape.k_pred = r.k_pred;
    kmin_enc = std::min(kmin_enc, r.k_enc);
    kmax_enc = std::max(kmax_enc, r.k_enc);
    kmin_pred = std::min(kmin_pred, r.k_pred);
    kmax_pred = std::max(kmax_pred, r.k_pred);
    step_flops.push_back(bench::train_step_flops(shape).total);
  }
  if (profiler) profiler->stop_and_save();
  const double rss = peak_rss_bytes();
  const CudaPeak cpeak = cuda_peak(device);
  const double med = median(times);
  const double ips = med > 0 ? static_cast<double>(batch) / med : 0.0;
  double mean_flops = 0.0;
  for (double f : step_flops) mean_flops += f / static_cast<double>(step_flops.size());
  const double achieved = med > 0 ? mean_flops / med : 0.0;

  // ---- matmul rate on the same device, same threads ------------------------------------------------------------
  // CUDA: bf16 at::mm. CPU: the step's precision; in fp32 also oneDNN's inner product (sdk::linear's kernel, about
  // twice MKL's sgemm on our AMD Zen 4 machines), and the faster of the two is the denominator, whichever kernel the
  // step used (--linear aten measures MKL against the machine's best, not against itself).
  bench::MatmulRate rate = device.is_cuda() ? bench::measure_matmul_rate(device, at::kBFloat16, 8192, 20)
                           : bench::measure_matmul_rate(device, cpu_bf16 ? at::kBFloat16 : at::kFloat, 1024, 10);
  std::string other_rate;
  bool onednn_applies = false;  // sdk::linear takes oneDNN here (fp32 on the CPU, the op present and enabled)
  if (!device.is_cuda() && !cpu_bf16) {
    const bench::MatmulRate onednn = bench::measure_onednn_rate(1024, 10);
    onednn_applies = onednn.flops_per_s > 0;
    if (onednn_applies) {
      const bool faster = onednn.flops_per_s > rate.flops_per_s;
      const bench::MatmulRate& slower = faster ? rate : onednn;
      other_rate = "; " + slower.kernel + ": " + bench::format_flops(slower.flops_per_s, "FLOP/s");
      if (faster) rate = onednn;
    }
  }
  const double mfu = rate.flops_per_s > 0 ? achieved / rate.flops_per_s : 0.0;

  std::cout << "== ijepa bench train ==\n"
            << "  date           " << today() << "\n"
            << "  model          " << model_name << "/" << patch << " @ " << image_size << " px (encoder D " << preset->dim
            << ", depth " << preset->depth << ", heads " << preset->heads << "; predictor depth " << pred_depth
            << (pred_depth_default ? " (default)" : "") << ", width " << pred_dim << (pred_dim_default ? " (default)" : "")
            << "); " << n_params << " parameters\n"
            << "  batch          " << batch << " images; " << shape.nenc << " context + " << shape.npred
            << " target masks per image (multiblock, min_keep " << min_keep << "); K_enc " << kmin_enc << ".." << kmax_enc << ", K_pred " << kmin_pred << ".."
            << kmax_pred << " (timed steps)\n"
            << "  device         " << device.str()
            << (device.is_cuda() ? " (bf16 autocast)" : cpu_bf16 ? " (bf16 CPU autocast: train.cpu_bf16, an opt-in deviation)" : " (fp32)") << ", "
            << threads << " CPU threads\n"
            << "  attention      " << attention
            << (attention == "auto" ? (device.is_cuda() ? " (fused SDPA on CUDA)" : " (explicit softmax on the CPU)") : "")
            << "\n"
            << "  linear         " << linear
            << (linear == "auto" && onednn_applies ? " (oneDNN inner product for fp32 on the CPU)" : " (at::linear)")
            << "\n"
            << "  steps          " << steps << " timed (median reported), " << warmup << " warm-up excluded"
            << (sync_each_step ? "; the loss read on the host after every step (--sync-each-step)"
                : device.is_cuda() ? "; step times from CUDA events, no synchronisation inside the loop" : "")
            << "\n"
            << "  C++ step       " << fmt(med) << " s median (min " << fmt(*std::min_element(times.begin(), times.end()))
            << ", max " << fmt(*std::max_element(times.begin(), times.end())) << ")\n"
            << "  C++            " << fmt(ips) << " images/s\n"
            << "  model FLOPs    " << bench::format_flops(mean_flops, "FLOP") << " per step (mean of timed steps, "
            << "analytic, docs/benchmarks.md)\n"
            << "  achieved       " << bench::format_flops(achieved, "FLOP/s") << "\n"
            << "  matmul rate    " << rate.describe() << ", measured now"
            << (device.is_cuda() || cpu_bf16 ? "" : " (CPU: fp32 rate, not bf16" + other_rate + ")") << "\n"
            << "  MFU            " << fmt(100.0 * mfu, 3) << " %\n";
  if (device.is_cuda()) {
    std::cout << "  peak memory    " << mib(cpeak.allocated) << " allocated, " << mib(cpeak.reserved)
              << " reserved (CUDA caching allocator peak, warm-up and timed steps)\n";
  } else {
    std::cout << "  peak memory    " << mib(rss) << " peak RSS of the whole process (CPU: getrusage ru_maxrss; "
              << "includes the " << total << " pre-built batches)\n";
  }
  if (profiler) {
    std::cout << "  profile        " << profiler->path() << " (Chrome trace of the timed steps; the timings above include "
              << "the profiler's overhead; summary: tools/trace_ops.py)\n";
  }
  std::cout << std::flush;
  if (baseline.empty()) return 0;

  // ---- Python baseline ---------------------------------------------------------------------------------------------
  results.clear();
  model.reset();
  release_cuda_cache(device);
  const fs::path result = tmp.path / "python.json";
  const std::string cmd = shell_quote(python.string()) + " " + shell_quote(script.string()) + " --inputs " +
                          shell_quote((tmp.path / "inputs.safetensors").string()) + " --out " +
                          shell_quote(result.string());
  const auto [rc, out] = run_capture(cmd);
  if (rc != 0 || !fs::exists(result)) {
    throw std::runtime_error("--baseline python: " + script.filename().string() + " failed (exit " +
                             std::to_string(rc) + "): " + last_line(out));
  }
  nlohmann::json py;
  {
    std::ifstream in(result);
    py = nlohmann::json::parse(in);
  }
  const double py_ips = py.at("images_per_s").get<double>();
  const double py_med = py.at("median_step_s").get<double>();
  const auto py_losses = py.at("losses").get<std::vector<double>>();
  const auto py_steps = py.at("step_s").get<std::vector<double>>();
  if (py_steps.empty()) throw std::runtime_error("--baseline python: the script reported no timed steps");
  const double py_best = *std::min_element(py_steps.begin(), py_steps.end());
  const double best = *std::min_element(times.begin(), times.end());
  std::cout << "  Python step    " << fmt(py_med) << " s median (min " << fmt(py_best) << "; " << script.filename().string()
            << ", torch "
            << py.at("torch").get<std::string>() << ", " << py.at("threads").get<int>() << " threads, "
            << (share_weights ? "same initial weights" : "own initial weights (model too large to pass)") << "; "
            << (device.is_cuda() || python_cpu_bf16 ? "bf16 autocast" : "fp32") << ")\n"
            << "  Python         " << fmt(py_ips) << " images/s\n";
  if (device.is_cuda()) {
    std::cout << "  Python memory  " << mib(py.at("peak_bytes").get<double>()) << " allocated (torch.cuda.max_memory_allocated)\n";
  } else {
    std::cout << "  Python memory  " << mib(py.at("peak_bytes").get<double>())
              << " peak RSS of the Python process (getrusage ru_maxrss)\n";
  }
  if (!py_losses.empty()) {
    std::cout << "  loss step 1    C++ " << fmt(losses.front(), 7) << ", Python " << fmt(py_losses.front(), 7)
              << "; last step C++ " << fmt(losses.back(), 7) << ", Python " << fmt(py_losses.back(), 7) << "\n";
  }
  std::cout << "  ratio          C++/Python images/s = " << fmt(py_ips > 0 ? ips / py_ips : 0.0, 3)
            << "x (median steps; fastest steps: " << fmt(best > 0 ? py_best / best : 0.0, 3) << "x)"
            << (baseline_fp32 ? "; C++ bf16 vs Python fp32 (--baseline-fp32): not the same arithmetic" : "") << "\n";
  if (!profile.empty()) std::cout << "  profile        " << profile_python.string() << " (the baseline's timed steps)\n";
  if (tmp.keep) std::cout << "  inputs         " << (tmp.path / "inputs.safetensors").string() << " (kept)\n";
  return 0;
}

}  // namespace ijepa::host::cli
