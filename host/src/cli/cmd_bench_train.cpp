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
#include <cctype>
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

#include "ijepa/host/bench/flops.hpp"
#include "ijepa/host/bench/matmul_rate.hpp"
#include "ijepa/host/bench/profile.hpp"
#include "ijepa/host/bench/step_clock.hpp"
#include "ijepa/host/build_config.hpp"
#include "cli/bench_util.hpp"
#include "cli/commands.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/loader_config.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/io/files.hpp"
#include "ijepa/host/io/safetensors.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/proc/crash_report.hpp"
#include "ijepa/host/proc/process.hpp"
#include "ijepa/host/run/jepa_model.hpp"
#include "ijepa/host/run/training_data.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/util/sdpa.hpp"

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
    "[--linear auto|aten] [--sdpa fused|torch] [--sync-each-step] [--python EXE] [--keep-inputs] [--json FILE]";

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



struct BenchTrainOptions {
  std::string model_name, device_str, attention, linear, baseline, profile, sdpa;
  bench::VitStack enc;  // the encoder's shape, as its plugin builds the preset (probe_encoder)
  std::int64_t patch = 0, image_size = 0, batch = 0, steps = 10, warmup = 3, pred_depth = 0, pred_dim = 0, threads = 0,
               seed = 0;
  bool pred_depth_default = true, pred_dim_default = true, cpu_bf16 = false, baseline_fp32 = false,
       python_cpu_bf16 = false, sync_each_step = false, keep_inputs = false;
  fs::path profile_cpp, profile_python;
  fs::path json;  // --json: the run's figures as one JSON record (tools/device_table.py reads them)
  fs::path python = IJEPA_PYTHON_EXE;
  fs::path script = fs::path(IJEPA_SOURCE_DIR) / "bench" / "train_baseline.py";
  std::int64_t total() const { return warmup + steps; }
};

// The model and step options (sizes, device, precision, kernels).
void parse_model_options(const Args& args, BenchTrainOptions& o) {
  o.model_name = args.require("--model");
  o.patch = int_at_least(args, "--patch", 0, 1);
  o.image_size = int_at_least(args, "--image-size", 0, 1);
  if (o.image_size % o.patch != 0) {
    throw UsageError("--patch " + std::to_string(o.patch) + " does not divide --image-size " + std::to_string(o.image_size));
  }
  o.batch = int_at_least(args, "--batch", 0, 1);
  o.steps = int_at_least(args, "--steps", 10, 1);
  o.warmup = int_at_least(args, "--warmup", 3, 0);
  o.pred_depth_default = !args.get("--pred-depth");
  o.pred_dim_default = !args.get("--pred-dim");
  // Absent: the default for the encoder (probe_encoder).
  if (!o.pred_depth_default) o.pred_depth = int_at_least(args, "--pred-depth", 0, 1);
  if (!o.pred_dim_default) o.pred_dim = int_at_least(args, "--pred-dim", 0, 4);
  o.threads = int_at_least(args, "--threads", 0, 0);
  o.seed = int_at_least(args, "--seed", 0, 0);
  o.device_str = args.get("--device").value_or("cpu");
  if (o.device_str != "cpu" && o.device_str.rfind("cuda", 0) != 0) {
    throw UsageError("--device: expected cpu or cuda (cuda:N), got '" + o.device_str + "'");
  }
  if (o.device_str != "cpu" && !util::cuda_available()) {
    throw std::runtime_error("--device " + o.device_str + ": CUDA is not available on this machine");
  }
  o.cpu_bf16 = args.flag("--cpu-bf16");
  if (o.cpu_bf16 && o.device_str != "cpu") throw UsageError("--cpu-bf16 is for --device cpu (CUDA always autocasts to bf16)");
  // A/B switches for the pieces of the step (docs/benchmarks.md): the ViT plugins' attention and linear kernels, and
  // a host read of the loss after every step (what the trainer did before it read losses at sync points only).
  o.attention = args.get("--attention").value_or("auto");
  if (o.attention != "auto" && o.attention != "sdpa" && o.attention != "explicit") {
    throw UsageError("--attention: expected auto, sdpa or explicit, got '" + o.attention + "'");
  }
  o.linear = args.get("--linear").value_or("auto");
  if (o.linear != "auto" && o.linear != "aten") throw UsageError("--linear: expected auto or aten, got '" + o.linear + "'");
  o.sync_each_step = args.flag("--sync-each-step");
  o.sdpa = args.get("--sdpa").value_or("fused");  // train.sdpa's values; checked where the model applies it
  if (o.sdpa != "fused" && o.sdpa != "torch") throw UsageError("--sdpa: expected fused or torch, got '" + o.sdpa + "'");
}

// The baseline, profile and input-keeping options.
void parse_baseline_options(const Args& args, BenchTrainOptions& o) {
  // --baseline-fp32: with --cpu-bf16, the baseline stays in fp32, as the official code runs on a CPU (its
  // torch.cuda.amp.autocast does nothing there): the product's opt-in against the official code as it is.
  o.baseline_fp32 = args.flag("--baseline-fp32");
  if (o.baseline_fp32 && !o.cpu_bf16) throw UsageError("--baseline-fp32 goes with --cpu-bf16 (without it both sides run fp32)");
  o.python_cpu_bf16 = o.cpu_bf16 && !o.baseline_fp32;
  o.baseline = args.get("--baseline").value_or("");
  if (!o.baseline.empty() && o.baseline != "python") {
    throw UsageError("--baseline: the only baseline is 'python', got '" + o.baseline + "'");
  }
  // --profile: Chrome traces of the timed steps (C++ at the path, the baseline beside it as <stem>.python.json).
  o.profile = args.get("--profile").value_or("");
  if (!o.profile.empty()) {
    check_output_file("--profile", o.profile, /*may_replace=*/true);
    o.profile_cpp = fs::absolute(o.profile);
    o.profile_python = o.profile_cpp.parent_path() / (o.profile_cpp.stem().string() + ".python.json");
  }
  // --python: another interpreter for the baseline (one with the official code's dependencies, say).
  if (const auto py = args.get("--python")) {
    if (o.baseline.empty()) throw UsageError("--python goes with --baseline python");
    o.python = *py;
  }
  if (!o.baseline.empty()) {
    std::error_code ec;
    if (o.python.empty() || !fs::exists(o.python, ec)) {
      throw std::runtime_error("--baseline python: no Python interpreter at '" + o.python.string() +
                               "' (--python, or IJEPA_PYTHON at configure time)");
    }
    if (!fs::exists(o.script, ec)) throw std::runtime_error("--baseline python: " + o.script.string() + " is missing");
  }
  o.keep_inputs = args.flag("--keep-inputs");
  if (const auto j = args.get("--json")) {
    check_output_file("--json", *j, /*may_replace=*/true);
    o.json = fs::absolute(*j);
  }
}

// The encoder's shape, asked of the encoder plugin (the benchmark keeps no copy of its presets): a probe built on a
// one-patch image. UsageError naming --model for a preset the plugin does not know. Fills the predictor defaults.
void probe_encoder(const Registry& registry, BenchTrainOptions& o) {
  const nlohmann::json cfg = {{"type", "vit"}, {"preset", o.model_name}, {"patch_size", o.patch}, {"img_size", o.patch}};
  try {
    const Component<sdk::Encoder> enc =
        registry.make_encoder(cfg, build_context(o.patch, o.patch, 0), "components.encoder");
    o.enc = bench::encoder_stack(*enc);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (what.find("preset") == std::string::npos) throw;
    const auto valid = what.find("(valid");  // the plugin's list of its presets
    throw UsageError("--model: unknown model '" + o.model_name + "'" +
                     (valid == std::string::npos ? ": " + what : " " + what.substr(valid)));
  }
  if (o.pred_depth_default) o.pred_depth = bench::default_pred_depth(o.enc);
  if (o.pred_dim_default) o.pred_dim = bench::default_pred_dim(o.enc);
}

// The benchmark's experiment: synthetic images, the preset encoder, the predictor asked for, the official rest.
nlohmann::json bench_experiment(const BenchTrainOptions& o, int threads) {
  nlohmann::json cfg = experiment_defaults();
  cfg["name"] = "bench-train";
  cfg["seed"] = o.seed;
  cfg["data"]["source"] = "synthetic";
  cfg["data"]["image_size"] = o.image_size;
  cfg["data"]["synthetic_count"] = o.batch * std::min<std::int64_t>(o.total(), 64);
  cfg["data"]["workers"] = 1;
  cfg["components"]["encoder"] = {{"type", "vit"},          {"preset", o.model_name}, {"patch_size", o.patch},
                                  {"img_size", o.image_size}, {"attention", o.attention}, {"linear", o.linear}};
  cfg["components"]["predictor"] = {{"type", "vit_predictor"}, {"embed_dim", o.pred_dim}, {"depth", o.pred_depth},
                                    {"attention", o.attention}, {"linear", o.linear}};
  cfg["train"]["device"] = o.device_str;
  cfg["train"]["threads"] = threads;
  cfg["train"]["batch_size"] = o.batch;
  cfg["train"]["bf16"] = true;
  cfg["train"]["cpu_bf16"] = o.cpu_bf16;
  cfg["train"]["sdpa"] = o.sdpa;
  return cfg;
}

// The bench's experiment is made of its flags: a component's error about a key that a flag set says which flag
// ("... got 7 (from --pred-dim 7)"), as a --set is named by ijepa train.
std::string with_flag_origin(const std::string& what, const BenchTrainOptions& o) {
  auto word_at = [&](const std::string& w) {  // `w` as a whole identifier (or dotted key) in `what`
    auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.'; };
    for (std::size_t p = what.find(w); p != std::string::npos; p = what.find(w, p + 1)) {
      const std::size_t e = p + w.size();
      if ((p == 0 || !ident(what[p - 1])) && (e == what.size() || !ident(what[e]) || what[e] == '.')) return true;
    }
    return false;
  };
  struct FlagKey {
    const char* section;
    const char* key;
    std::string flag;
    bool given;
  };
  const FlagKey keys[] = {
      {"components.encoder", "preset", "--model " + o.model_name, true},
      {"components.encoder", "patch_size", "--patch " + std::to_string(o.patch), true},
      {"components.encoder", "img_size", "--image-size " + std::to_string(o.image_size), true},
      {"data", "image_size", "--image-size " + std::to_string(o.image_size), true},
      {"train", "batch_size", "--batch " + std::to_string(o.batch), true},
      {"components.predictor", "embed_dim", "--pred-dim " + std::to_string(o.pred_dim), !o.pred_dim_default},
      {"components.predictor", "depth", "--pred-depth " + std::to_string(o.pred_depth), !o.pred_depth_default}};
  std::vector<std::string> flags;
  for (const auto& k : keys) {
    const std::string section = k.section;
    const bool named = word_at(section + "." + k.key) ||
                       (what.rfind(section + ":", 0) == 0 && (word_at(k.key) || word_at("'" + std::string(k.key))));
    if (k.given && named && std::find(flags.begin(), flags.end(), k.flag) == flags.end()) flags.push_back(k.flag);
  }
  if (flags.empty()) return what;
  std::string out = what + " (from";
  for (const auto& f : flags) out += " " + f;
  return out + ")";
}

// The official min_keep 10 is unreachable on small grids (the masker rejects it): the largest that fits.
nlohmann::json resolve_with_min_keep(nlohmann::json cfg, const Registry& registry, std::int64_t* min_keep_out) {
  nlohmann::json resolved = resolve_experiment(cfg, {}, registry, "ijepa bench train");
  for (std::int64_t k = resolved["components"]["masker"]["min_keep"].get<std::int64_t>(); k >= 0; --k) {
    nlohmann::json candidate = resolved;
    candidate["components"]["masker"]["min_keep"] = k;
    try {
      (void)make_rank_masker(candidate, registry, 0);
      cfg["components"]["masker"]["min_keep"] = k;
      *min_keep_out = k;
      return resolve_experiment(cfg, {}, registry, "ijepa bench train");
    } catch (const std::exception&) {
      if (k == 0) throw;
    }
  }
  return resolved;
}

// Every batch is built before timing (loader work is not part of the step), as the trainer's loader makes them.
std::vector<Batch> make_batches(const nlohmann::json& resolved, const Registry& registry, std::int64_t total, bool cuda) {
  DataLoaderOptions lo = loader_options(resolved, 0, 1, /*pin_memory=*/cuda);  // pinned as the official DataLoader
  lo.prefetch = 1;
  const Component<sdk::Masker> masker = make_rank_masker(resolved, registry, 0);
  lo.masker_tag = "plugin " + masker.plugin_id + ": " + masker.type;
  lo.num_patches = experiment_context(resolved).grid.count();
  Loader loader(open_dataset(resolved.at("data"), "train"), masker.ptr, lo, 0);
  std::vector<Batch> batches;
  for (std::int64_t i = 0; i < total; ++i) batches.push_back(loader.make_batch(i));
  return batches;
}

// The baseline's inputs: images, masks, schedule values and (below kMaxSharedParams) the initial weights.
void write_baseline_inputs(const fs::path& file, const BenchTrainOptions& o, const JepaModel& model,
                           const std::vector<Batch>& batches, const Schedules& sched, bool share_weights, int threads) {
  TensorMap t;
  if (share_weights) t = model.weights();  // initial weights, official key names (encoder.*, predictor.*, ...)
  at::Tensor sc = at::empty({o.total(), 3}, at::kDouble);
  for (std::int64_t i = 0; i < o.total(); ++i) {
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
  const StringMap meta{{"model", o.model_name}, {"patch", std::to_string(o.patch)},
                       {"image_size", std::to_string(o.image_size)}, {"batch", std::to_string(o.batch)},
                       {"pred_depth", std::to_string(o.pred_depth)}, {"pred_dim", std::to_string(o.pred_dim)},
                       {"steps", std::to_string(o.steps)}, {"warmup", std::to_string(o.warmup)},
                       {"device", model.device().str()}, {"threads", std::to_string(threads)},
                       {"seed", std::to_string(o.seed)}, {"nenc", std::to_string(batches[0].masks.context.size())},
                       {"npred", std::to_string(batches[0].masks.target.size())},
                       {"weights", share_weights ? "1" : "0"}, {"cpu_bf16", o.python_cpu_bf16 ? "1" : "0"},
                       {"profile", o.profile_python.string()}};
  write_safetensors(file.string(), t, meta);
}

struct CppTiming {
  std::vector<double> times, step_flops, losses;
  std::int64_t kmin_enc = INT64_MAX, kmax_enc = 0, kmin_pred = INT64_MAX, kmax_pred = 0;
  bench::StepShape shape;
  double rss = 0.0, med = 0.0, ips = 0.0, mean_flops = 0.0, achieved = 0.0;
  CudaPeak cuda;
};

// Times every step without a synchronisation inside the loop (the trainer reads no loss on the host either): step
// times come from StepClock marks, CUDA events on the GPU.
CppTiming time_steps(JepaModel& model, const std::vector<Batch>& batches, const BenchTrainOptions& o) {
  const at::Device device = model.device();
  reset_cuda_peak(device);
  CppTiming t;
  t.shape.batch = o.batch;
  t.shape.image_size = o.image_size;
  t.shape.patch = o.patch;
  t.shape.encoder = bench::encoder_stack(*model.encoder());
  t.shape.predictor = {o.pred_dim, o.pred_depth, t.shape.encoder.heads, 4 * o.pred_dim};
  std::optional<bench::StepProfiler> profiler;
  if (!o.profile.empty()) profiler.emplace(o.profile_cpp.string(), device.is_cuda());
  bench::synchronize(device);
  bench::StepClock clock(device);
  std::vector<JepaModel::StepResult> results;
  for (std::int64_t i = 0; i < o.total(); ++i) {
    if (profiler && i == o.warmup) profiler->start();
    clock.mark();
    results.push_back(model.train_step(batches[static_cast<std::size_t>(i)], i));
    if (o.sync_each_step) (void)results.back().loss_value();
  }
  clock.mark();
  const std::vector<double> step_s = clock.seconds();
  for (std::int64_t i = 0; i < o.total(); ++i) {
    const JepaModel::StepResult& r = results[static_cast<std::size_t>(i)];
    const Batch& b = batches[static_cast<std::size_t>(i)];
    t.losses.push_back(r.loss_value());
    if (i < o.warmup) continue;
    t.times.push_back(step_s[static_cast<std::size_t>(i)]);
    t.shape.nenc = static_cast<std::int64_t>(b.masks.context.size());
    t.shape.npred = static_cast<std::int64_t>(b.masks.target.size());
    t.shape.k_enc = r.k_enc;
    t.shape.k_pred = r.k_pred;
    t.kmin_enc = std::min(t.kmin_enc, r.k_enc);
    t.kmax_enc = std::max(t.kmax_enc, r.k_enc);
    t.kmin_pred = std::min(t.kmin_pred, r.k_pred);
    t.kmax_pred = std::max(t.kmax_pred, r.k_pred);
    t.step_flops.push_back(bench::train_step_flops(t.shape).total);
  }
  if (profiler) profiler->stop_and_save();
  t.rss = peak_rss_bytes();
  t.cuda = cuda_peak(device);
  t.med = median(t.times);
  t.ips = t.med > 0 ? static_cast<double>(o.batch) / t.med : 0.0;
  for (double f : t.step_flops) t.mean_flops += f / static_cast<double>(t.step_flops.size());
  t.achieved = t.med > 0 ? t.mean_flops / t.med : 0.0;
  return t;
}

struct RateReport {
  bench::MatmulRate rate;
  std::string other_rate;
  bool onednn_applies = false;  // sdk::linear takes oneDNN here (fp32 on the CPU, the op present and enabled)
};

// The matmul rate on the same device and threads. CUDA: bf16 at::mm. CPU: the step's precision; in fp32 also
// oneDNN's inner product (sdk::linear's kernel, about twice MKL's sgemm on our AMD Zen 4 machines), and the faster of
// the two is the denominator, whichever kernel the step used (--linear aten measures MKL against the machine's best).
RateReport measure_rate(const at::Device& device, bool cpu_bf16) {
  RateReport r;
  r.rate = device.is_cuda() ? bench::measure_matmul_rate(device, at::kBFloat16, 8192, 20)
                            : bench::measure_matmul_rate(device, cpu_bf16 ? at::kBFloat16 : at::kFloat, 1024, 10);
  if (!device.is_cuda() && !cpu_bf16) {
    const bench::MatmulRate onednn = bench::measure_onednn_rate(1024, 10);
    r.onednn_applies = onednn.flops_per_s > 0;
    if (r.onednn_applies) {
      const bool faster = onednn.flops_per_s > r.rate.flops_per_s;
      const bench::MatmulRate& slower = faster ? r.rate : onednn;
      r.other_rate = "; " + slower.kernel + ": " + bench::format_flops(slower.flops_per_s, "FLOP/s");
      if (faster) r.rate = onednn;
    }
  }
  return r;
}

void print_setup(const BenchTrainOptions& o, const CppTiming& t, const at::Device& device, std::int64_t n_params,
                 std::int64_t min_keep, int threads, bool onednn_applies) {
  std::cout << "== ijepa bench train ==\n"
            << "  date           " << today() << "\n"
            << "  model          " << o.model_name << "/" << o.patch << " @ " << o.image_size << " px (encoder D "
            << o.enc.dim << ", depth " << o.enc.depth << ", heads " << o.enc.heads << "; predictor depth "
            << o.pred_depth << (o.pred_depth_default ? " (default)" : "") << ", width " << o.pred_dim
            << (o.pred_dim_default ? " (default)" : "") << "); " << n_params << " parameters\n"
            << "  batch          " << o.batch << " images; " << t.shape.nenc << " context + " << t.shape.npred
            << " target masks per image (multiblock, min_keep " << min_keep << "); K_enc " << t.kmin_enc << ".."
            << t.kmax_enc << ", K_pred " << t.kmin_pred << ".." << t.kmax_pred << " (timed steps)\n"
            << "  device         " << device.str()
            << (device.is_cuda() ? " (bf16 autocast)"
                : o.cpu_bf16     ? " (bf16 CPU autocast: train.cpu_bf16, an opt-in deviation)"
                                 : " (fp32)")
            << ", " << threads << " CPU threads\n"
            << "  attention      " << o.attention
            << (o.attention == "auto" ? (device.is_cuda() ? " (fused SDPA on CUDA)" : " (explicit softmax on the CPU)") : "")
            << "\n"
            << "  sdpa backends  " << util::sdpa_description() << (device.is_cuda() ? "" : " (CUDA only)") << "\n"
            << "  linear         " << o.linear
            << (o.linear == "auto" && onednn_applies ? " (oneDNN inner product for fp32 on the CPU)" : " (at::linear)")
            << "\n"
            << "  steps          " << o.steps << " timed (median reported), " << o.warmup << " warm-up excluded"
            << (o.sync_each_step ? "; the loss read on the host after every step (--sync-each-step)"
                : device.is_cuda() ? "; step times from CUDA events, no synchronisation inside the loop"
                                   : "")
            << "\n";
}

void print_cpp_figures(const BenchTrainOptions& o, const CppTiming& t, const RateReport& r, const at::Device& device) {
  const double mfu = r.rate.flops_per_s > 0 ? t.achieved / r.rate.flops_per_s : 0.0;
  std::cout << "  C++ step       " << fmt(t.med) << " s median (min " << fmt(*std::min_element(t.times.begin(), t.times.end()))
            << ", max " << fmt(*std::max_element(t.times.begin(), t.times.end())) << ")\n"
            << "  C++            " << fmt(t.ips) << " images/s\n"
            << "  model FLOPs    " << bench::format_flops(t.mean_flops, "FLOP") << " per step (mean of timed steps, "
            << "analytic, docs/benchmarks.md)\n"
            << "  achieved       " << bench::format_flops(t.achieved, "FLOP/s") << "\n"
            << "  matmul rate    " << r.rate.describe() << ", measured now"
            << (device.is_cuda() || o.cpu_bf16 ? "" : " (CPU: fp32 rate, not bf16" + r.other_rate + ")") << "\n"
            << "  MFU            " << fmt(100.0 * mfu, 3) << " %\n";
  if (device.is_cuda()) {
    std::cout << "  peak memory    " << mib(t.cuda.allocated) << " allocated, " << mib(t.cuda.reserved)
              << " reserved (CUDA caching allocator peak, warm-up and timed steps)\n";
  } else {
    std::cout << "  peak memory    " << mib(t.rss) << " peak RSS of the whole process (CPU: getrusage ru_maxrss; "
              << "includes the " << o.total() << " pre-built batches)\n";
  }
  if (!o.profile.empty()) {
    std::cout << "  profile        " << o.profile_cpp.string() << " (Chrome trace of the timed steps; the timings above "
              << "include the profiler's overhead; summary: tools/trace_ops.py)\n";
  }
  std::cout << std::flush;
}

// The run as one JSON record (--json; schema "ijepa.bench_train/1", docs/benchmarks.md): the setup, the C++
// figures, and, once the baseline has run, its figures and the ratio. Written atomically after the C++ figures and
// again after the baseline, so a baseline that fails or a process that dies later still leaves the C++ half.
nlohmann::json bench_record(const BenchTrainOptions& o, const CppTiming& t, const RateReport& r, const at::Device& device,
                            std::int64_t n_params, std::int64_t min_keep, int threads, const Argv& argv) {
  const double mfu = r.rate.flops_per_s > 0 ? t.achieved / r.rate.flops_per_s : 0.0;
  nlohmann::json cpp = {{"median_step_s", t.med},
                        {"min_step_s", *std::min_element(t.times.begin(), t.times.end())},
                        {"max_step_s", *std::max_element(t.times.begin(), t.times.end())},
                        {"step_s", t.times},
                        {"images_per_s", t.ips},
                        {"model_flops_per_step", t.mean_flops},
                        {"achieved_flops_per_s", t.achieved},
                        {"matmul_rate_flops_per_s", r.rate.flops_per_s},
                        {"matmul_rate", r.rate.describe()},
                        {"mfu", mfu},
                        {"loss_first", t.losses.front()},
                        {"loss_last", t.losses.back()}};
  if (device.is_cuda()) {
    cpp["peak_bytes"] = t.cuda.allocated;
    cpp["peak_kind"] = "cuda allocated";
    cpp["peak_reserved_bytes"] = t.cuda.reserved;
  } else {
    cpp["peak_bytes"] = t.rss;
    cpp["peak_kind"] = "process peak RSS";
  }
  std::vector<std::string> args{"ijepa", "bench", "train"};
  args.insert(args.end(), argv.begin(), argv.end());
  return {{"schema", "ijepa.bench_train/1"},
          {"date", today()},
          {"argv", args},
          {"workbench", workbench_version()},
          {"torch", torch_version()},
          {"model", o.model_name},
          {"patch", o.patch},
          {"image_size", o.image_size},
          {"batch", o.batch},
          {"params", n_params},
          {"pred_depth", o.pred_depth},
          {"pred_dim", o.pred_dim},
          {"min_keep", min_keep},
          {"k_enc", {t.kmin_enc, t.kmax_enc}},
          {"k_pred", {t.kmin_pred, t.kmax_pred}},
          {"steps", o.steps},
          {"warmup", o.warmup},
          {"device", device.str()},
          {"device_name", device.is_cuda() ? util::cuda_device_name() : std::string("CPU")},
          {"threads", threads},
          {"precision", device.is_cuda() || o.cpu_bf16 ? "bf16 autocast" : "fp32"},
          {"attention", o.attention},
          {"sdpa", o.sdpa},
          {"sdpa_backends", util::sdpa_description()},
          {"linear", o.linear},
          {"sync_each_step", o.sync_each_step},
          {"cpp", cpp},
          {"baseline", o.baseline.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.baseline)},
          {"baseline_status", o.baseline.empty() ? "not run" : "running"},
          {"python", nullptr},
          {"ratio", nullptr}};
}

void write_record(const BenchTrainOptions& o, const nlohmann::json& record) {
  if (!o.json.empty()) write_file_atomic(o.json, record.dump(2) + "\n");
}

// Runs bench/train_baseline.py on the inputs written before timing (the interpreter itself, no shell between, so
// a crash is reported as the signal it was) and prints its figures and the ratio. On failure the temp directory
// stays, with the script's whole output in baseline.log and the inputs to rerun it alone.
void python_baseline(const BenchTrainOptions& o, TempDir& tmp, const CppTiming& t, bool cuda, bool share_weights,
                     nlohmann::json& record) {
  const fs::path result = tmp.path / "python.json", log = tmp.path / "baseline.log";
  const fs::path inputs = tmp.path / "inputs.safetensors";
  const int status = proc::run_logged({o.python.string(), o.script.string(), "--inputs", inputs.string(), "--out",
                                 result.string()},
                                log);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(result)) {
    tmp.keep = true;
    const std::string last = last_line(read_file_text(log));
    const std::string what = o.script.filename().string() + " " + proc::describe_wait_status(status) +
                             (last.empty() ? "" : " (last line: " + last + ")");
    record["baseline_status"] = "failed: " + what;
    write_record(o, record);
    throw std::runtime_error("--baseline python: " + what + "; its output is in " + log.string() +
                             ", its inputs beside it (rerun: " + o.python.string() + " " + o.script.string() +
                             " --inputs " + inputs.string() + " --out OUT.json)");
  }
  nlohmann::json py;
  {
    std::ifstream in(result);
    py = nlohmann::json::parse(in);
  }
  const double py_ips = py.at("images_per_s").get<double>();
  const auto py_losses = py.at("losses").get<std::vector<double>>();
  const auto py_steps = py.at("step_s").get<std::vector<double>>();
  if (py_steps.empty()) throw std::runtime_error("--baseline python: the script reported no timed steps");
  const double py_best = *std::min_element(py_steps.begin(), py_steps.end());
  const double best = *std::min_element(t.times.begin(), t.times.end());
  std::cout << "  Python step    " << fmt(py.at("median_step_s").get<double>()) << " s median (min " << fmt(py_best)
            << "; " << o.script.filename().string() << ", torch " << py.at("torch").get<std::string>() << ", "
            << py.at("threads").get<int>() << " threads, "
            << (share_weights ? "same initial weights" : "own initial weights (model too large to pass)") << "; "
            << (cuda || o.python_cpu_bf16 ? "bf16 autocast" : "fp32") << ")\n"
            << "  Python         " << fmt(py_ips) << " images/s\n";
  std::cout << "  Python memory  " << mib(py.at("peak_bytes").get<double>())
            << (cuda ? " allocated (torch.cuda.max_memory_allocated)\n" : " peak RSS of the Python process (getrusage ru_maxrss)\n");
  if (!py_losses.empty()) {
    std::cout << "  loss step 1    C++ " << fmt(t.losses.front(), 7) << ", Python " << fmt(py_losses.front(), 7)
              << "; last step C++ " << fmt(t.losses.back(), 7) << ", Python " << fmt(py_losses.back(), 7) << "\n";
  }
  std::cout << "  ratio          C++/Python images/s = " << fmt(py_ips > 0 ? t.ips / py_ips : 0.0, 3)
            << "x (median steps; fastest steps: " << fmt(best > 0 ? py_best / best : 0.0, 3) << "x)"
            << (o.baseline_fp32 ? "; C++ bf16 vs Python fp32 (--baseline-fp32): not the same arithmetic" : "") << "\n";
  if (!o.profile.empty()) std::cout << "  profile        " << o.profile_python.string() << " (the baseline's timed steps)\n";
  record["python"] = {{"median_step_s", py.at("median_step_s").get<double>()},
                      {"min_step_s", py_best},
                      {"step_s", py_steps},
                      {"images_per_s", py_ips},
                      {"peak_bytes", py.at("peak_bytes").get<double>()},
                      {"peak_kind", cuda ? "cuda allocated" : "process peak RSS"},
                      {"torch", py.at("torch").get<std::string>()},
                      {"threads", py.at("threads").get<int>()},
                      {"same_initial_weights", share_weights},
                      {"precision", cuda || o.python_cpu_bf16 ? "bf16 autocast" : "fp32"}};
  if (!py_losses.empty()) {
    record["python"]["loss_first"] = py_losses.front();
    record["python"]["loss_last"] = py_losses.back();
  }
  record["ratio"] = py_ips > 0 ? t.ips / py_ips : 0.0;
  record["ratio_fastest"] = best > 0 ? py_best / best : 0.0;
  record["baseline_status"] = "done";
  write_record(o, record);
  if (tmp.keep) std::cout << "  inputs         " << (tmp.path / "inputs.safetensors").string() << " (kept)\n";
}

// Official schedule values; a long schedule so every benchmarked step is in the warm-up ramp.
Schedules bench_schedules() {
  Schedules sched;
  sched.warmup_steps = 1000;
  sched.total_steps = 10000;
  sched.ema_steps = 10000.0;
  return sched;
}

}  // namespace

int cmd_bench_train(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--model", "--patch", "--image-size", "--batch", "--steps", "--warmup", "--device", "--baseline",
                 "--pred-depth", "--pred-dim", "--threads", "--seed", "--profile", "--attention", "--linear", "--sdpa",
                 "--python", "--json"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--keep-inputs", "--cpu-bf16", "--baseline-fp32", "--sync-each-step"});
  Args args(argv, valued, flags);
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'; " + kUsage);
  if (!args.get("--model") || !args.get("--patch") || !args.get("--image-size") || !args.get("--batch")) {
    throw UsageError(kUsage);
  }
  BenchTrainOptions o;
  parse_model_options(args, o);
  parse_baseline_options(args, o);
  if (o.threads > 0) at::set_num_threads(static_cast<int>(o.threads));
  const int threads = at::get_num_threads();

  proc::set_crash_stage("bench train: loading plugins and building the model");
  PluginHost host;
  load_plugins(host, args);
  probe_encoder(host.registry(), o);
  std::int64_t min_keep = 0;
  nlohmann::json resolved;
  std::unique_ptr<JepaModel> model;  // freed before the Python baseline runs
  try {
    resolved = resolve_with_min_keep(bench_experiment(o, threads), host.registry(), &min_keep);
    model = std::make_unique<JepaModel>(resolved, host.registry());
  } catch (const ConfigError& e) {
    throw ConfigError(with_flag_origin(e.what(), o));
  }
  const at::Device device = model->device();
  const Schedules sched = bench_schedules();
  model->set_schedules(sched);
  const std::int64_t n_params = model->parameter_count(false);
  proc::set_crash_stage("bench train: building the batches (loader, masks, pinned memory)");
  const std::vector<Batch> batches = make_batches(resolved, host.registry(), o.total(), device.is_cuda());
  at::set_num_threads(threads);  // the loader's worker thread sets its own count; restore ours

  TempDir tmp;
  tmp.keep = o.keep_inputs;
  const bool share_weights = n_params <= kMaxSharedParams;
  if (!o.baseline.empty()) {
    proc::set_crash_stage("bench train: writing the baseline's inputs");
    tmp.path = fs::temp_directory_path() / ("ijepa_bench_train_" + std::to_string(::getpid()));
    fs::create_directories(tmp.path);
    write_baseline_inputs(tmp.path / "inputs.safetensors", o, *model, batches, sched, share_weights, threads);
  }
  proc::set_crash_stage("bench train: timing the C++ steps");
  const CppTiming timing = time_steps(*model, batches, o);
  proc::set_crash_stage("bench train: measuring the matmul rate");
  const RateReport rate = measure_rate(device, o.cpu_bf16);
  proc::set_crash_stage("bench train: printing the C++ figures");
  print_setup(o, timing, device, n_params, min_keep, threads, rate.onednn_applies);
  print_cpp_figures(o, timing, rate, device);
  nlohmann::json record = bench_record(o, timing, rate, device, n_params, min_keep, threads, argv);
  write_record(o, record);
  if (o.baseline.empty()) {
    proc::set_crash_stage("bench train: exiting (destructors: model, batches, plugins, CUDA)");
    return 0;
  }
  proc::set_crash_stage("bench train: freeing the C++ model");
  model.reset();
  proc::set_crash_stage("bench train: returning the CUDA cache to the driver");
  release_cuda_cache(device);
  proc::set_crash_stage("bench train: running and reading the Python baseline");
  python_baseline(o, tmp, timing, device.is_cuda(), share_weights, record);
  proc::set_crash_stage("bench train: exiting (destructors: batches, plugins, CUDA)");
  return 0;
}
}  // namespace ijepa::host::cli
