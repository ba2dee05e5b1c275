// `ijepa masks`: samples a masker's masks for batches 0..S-1, prints statistics and optionally writes them as JSON.
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "ijepa/host/data/mask_check.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/log/logging.hpp"

namespace ijepa::host::cli {

namespace {

// require_positive(args, name) -> the option's value; UsageError if absent, not an integer or < 1.
long long require_positive(const Args& args, const std::string& name) {
  (void)args.require(name);
  const long long v = args.get_int(name, 0);
  if (v < 1) throw UsageError("option " + name + " must be a positive integer, got " + std::to_string(v));
  return v;
}

// tensor [B, K] int64 -> [[ids of image 0], [ids of image 1], ...]
nlohmann::json to_rows(const at::Tensor& masks) {
  const at::Tensor m = masks.to(at::kLong).contiguous();
  const std::int64_t rows = m.size(0);
  const std::int64_t cols = m.size(1);
  const std::int64_t* p = m.data_ptr<std::int64_t>();
  nlohmann::json out = nlohmann::json::array();
  for (std::int64_t b = 0; b < rows; ++b) out.push_back(std::vector<std::int64_t>(p + b * cols, p + (b + 1) * cols));
  return out;
}


// Masker config: {"type": TYPE} plus every --set key=value (value parsed as JSON, else taken as a string); keys
// may be created here because the registry checks them against the plugin's defaults.
nlohmann::json masker_config(const Args& args, const std::string& type) {
  nlohmann::json cfg = {{"type", type}};
  for (const auto& assignment : args.all("--set")) {
    const auto eq = assignment.find('=');
    std::string key = eq == std::string::npos ? std::string() : assignment.substr(0, eq);
    if (!key.empty() && key[0] == '+') key = key.substr(1);
    if (key.empty()) throw UsageError("--set expects key=value, got '" + assignment + "'");
    if (key == "type") throw UsageError("--set " + assignment + ": the masker's type is --masker's");
    set_path(cfg, key, assignment_value(assignment.substr(eq + 1)), /*allow_create=*/true, "--set " + assignment);
  }
  return cfg;
}

struct MaskStats {
  double sum_enc = 0.0, sum_pred = 0.0;
  std::int64_t min_enc = std::numeric_limits<std::int64_t>::max(), max_enc = 0, fallbacks = 0;
  double sum_targets = 0.0;  // target masks per step
  std::int64_t min_targets = std::numeric_limits<std::int64_t>::max(), max_targets = 0;
  nlohmann::json steps = nlohmann::json::array();  // every step's masks, when kept
};

// Every step's masks are checked as the trainer's loader checks them (mask_check.hpp): a masker under development
// is told here what training would refuse.
MaskStats sample_masks(const Component<sdk::Masker>& masker, const std::string& type, long long batch,
                       long long steps, std::int64_t num_patches, bool keep) {
  MaskStats st;
  for (long long s = 0; s < steps; ++s) {
    const auto step = static_cast<std::uint64_t>(s);
    sdk::MaskSet ms;
    try {
      ms = masker.call([&](sdk::Masker& m) { return m.sample(batch, step); });
    } catch (const std::exception& e) {  // which batch, as the loader's errors say it
      throw std::runtime_error(std::string(e.what()) + " (sampling the masks of batch " + std::to_string(s) + ")");
    }
    if (const std::string p = mask_set_problem(ms, batch, num_patches); !p.empty()) {
      throw std::runtime_error("plugin " + masker.plugin_id + ": masker/" + type + ": the masks of batch " +
                               std::to_string(s) + ": " + p);
    }
    const auto n_targets = static_cast<std::int64_t>(ms.target.size());
    st.sum_targets += static_cast<double>(n_targets);
    st.min_targets = std::min(st.min_targets, n_targets);
    st.max_targets = std::max(st.max_targets, n_targets);
    const std::int64_t k_enc = ms.context.front().size(1);
    st.sum_enc += static_cast<double>(k_enc);
    st.sum_pred += static_cast<double>(ms.target.front().size(1));
    st.min_enc = std::min(st.min_enc, k_enc);
    st.max_enc = std::max(st.max_enc, k_enc);
    st.fallbacks += ms.fallbacks;
    if (keep) {
      nlohmann::json enc = nlohmann::json::array(), pred = nlohmann::json::array();
      for (const auto& m : ms.context) enc.push_back(to_rows(m));
      for (const auto& m : ms.target) pred.push_back(to_rows(m));
      st.steps.push_back({{"step", s}, {"enc", std::move(enc)}, {"pred", std::move(pred)}, {"fallbacks", ms.fallbacks}});
    }
  }
  return st;
}

}  // namespace

int cmd_masks(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--masker", "--set", "--image-size", "--patch-size", "--batch", "--steps", "--seed", "--out"});
  Args args(argv, valued, kPluginFlags);
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  const std::string type = args.require("--masker");
  const long long image_size = require_positive(args, "--image-size");
  const long long patch_size = require_positive(args, "--patch-size");
  const long long batch = require_positive(args, "--batch");
  if (batch > (1LL << 20)) {
    throw UsageError("option --batch expects at most 1048576 images, got " + std::to_string(batch));
  }
  const long long steps = require_positive(args, "--steps");
  (void)args.require("--seed");
  const long long seed = args.get_int("--seed", 0);
  if (seed < 0) throw UsageError("option --seed must be >= 0, got " + std::to_string(seed));
  if (image_size % patch_size != 0)
    throw UsageError("--patch-size " + std::to_string(patch_size) + " does not divide --image-size " +
                     std::to_string(image_size));
  if (const auto out = args.get("--out")) check_output_file("--out", *out, /*may_replace=*/true);  // before the work
  const nlohmann::json cfg = masker_config(args, type);
  PluginHost host;
  load_plugins(host, args);
  sdk::BuildContext ctx;
  try {
    ctx = build_context(image_size, patch_size, static_cast<std::uint64_t>(seed));
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--image-size / --patch-size: ") + e.what());
  }
  const auto masker = [&] {
    try {
      return host.registry().make_masker(cfg, ctx, "masker");
    } catch (const ConfigError& e) {
      // The keys are the --set's own ("'scal'", not "'masker.scal'"), and the --set that gave one is named.
      std::string what = e.what();
      if (what.rfind("masker.type: ", 0) == 0) what = "--masker: " + what.substr(13);
      for (std::size_t p = what.find("'masker."); p != std::string::npos; p = what.find("'masker.", p + 1)) {
        what.erase(p + 1, 7);
      }
      throw ConfigError(with_set_origin(what, args.all("--set")));
    }
  }();
  const bool write_json = args.get("--out").has_value();
  MaskStats st = sample_masks(masker, type, batch, steps, ctx.grid.count(), write_json);
  const double n = static_cast<double>(steps), n_patches = static_cast<double>(ctx.grid.count());
  std::ostringstream os;
  os << std::fixed << std::setprecision(2);
  os << "masker " << type << " (plugin " << masker.plugin_id << "): grid " << ctx.grid.h << "x" << ctx.grid.w
     << " (N=" << ctx.grid.count() << "), batch " << batch << ", steps 0.." << steps - 1 << ", seed " << seed << "\n"
     << "context ratio K_enc/N: mean " << std::setprecision(4) << st.sum_enc / n / n_patches << "\n"
     << std::setprecision(2) << "K_enc: mean " << st.sum_enc / n << ", min " << st.min_enc << ", max " << st.max_enc
     << "\n"
     << "K_pred: mean " << st.sum_pred / n << "\n"
     << "target masks per step: mean " << st.sum_targets / n << ", min " << st.min_targets << ", max " << st.max_targets
     << "\n"
     << "fallbacks: " << st.fallbacks << "\n";
  std::cout << os.str();
  if (write_json) {
    const std::string path = *args.get("--out");
    write_file_atomic(path, nlohmann::json{{"steps", std::move(st.steps)}}.dump() + "\n");
    std::cout << "wrote " << path << "\n";
  }
  return 0;
}

}  // namespace ijepa::host::cli
