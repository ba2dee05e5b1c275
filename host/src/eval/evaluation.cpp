#include "ijepa/host/eval/evaluation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <ATen/ATen.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/util/alloc_budget.hpp"
#include "ijepa/host/util/stats.hpp"
#include "ijepa/sdk/capabilities.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

bool eval_bookkeeping_key(const std::string& key) {
  return key == "step" || key == "epoch" || key == "train_n" || key == "test_n" || key == "seconds";
}

double label_sample_half(const nlohmann::json& metrics, const std::string& prefix, const std::string& metric) {
  const auto sd = metrics.find(prefix + "sd_" + metric), count = metrics.find(prefix + "samples");
  if (sd == metrics.end() || !sd->is_number() || count == metrics.end() || !count->is_number()) return 0.0;
  return util::sample_half(sd->get<double>(), std::llround(count->get<double>()));
}

nlohmann::json EvalResult::to_json() const {
  nlohmann::json j = {{"evaluator", evaluator}, {"where", where},     {"features", features},
                      {"encoder", encoder},     {"train_n", train_n}, {"test_n", test_n},
                      {"seconds", seconds}};
  for (const auto& [k, v] : trained) j[k] = v;
  if (!random_init.empty()) {
    nlohmann::json r = nlohmann::json::object(), g = nlohmann::json::object();
    for (const auto& [k, v] : random_init) {
      r[k] = v;
      if (auto it = trained.find(k); it != trained.end() && is_accuracy(k)) g[k] = it->second - v;
    }
    j["random_init"] = r;
    j["gain"] = g;
  }
  return j;
}

namespace {

std::string spec_key(const EvaluatorSpec& s) {
  return s.plugin_cfg.dump() + "|" + feature_kind_name(s.features) + "|" + std::to_string(s.train_limit) + "|" +
         std::to_string(s.test_limit) + "|" + (s.resize_crop ? "eval" : "none");
}

// The labels of a split must name classes in [0, num_classes).
void check_labels(const Dataset& d, const std::string& what) {
  if (d.num_classes() < 1) {
    throw DataError("evaluation needs labelled data: " + what + " (" + d.describe() + ") has no labels");
  }
  if (d.num_classes() == 1) {
    throw DataError("evaluation needs at least 2 classes: " + what + " (" + d.describe() + ") has 1");
  }
}

}  // namespace

Evaluation::Evaluation(const nlohmann::json& resolved, const std::vector<EvaluatorSpec>& specs,
                       const Registry& registry, const sdk::BuildContext& ctx, const at::Device& device)
    : resolved_(resolved), specs_(specs), registry_(registry), ctx_(ctx), device_(device) {
  if (specs_.empty()) return;
  image_size_ = ctx.image_size;
  const nlohmann::json& data = resolved_.at("data");
  train_data_ = open_dataset(data, "train");
  test_data_ = open_dataset(data, "test");
  check_labels(*train_data_, "the train split");
  check_labels(*test_data_, "the held-out split");
  num_classes_ = train_data_->num_classes();
  if (test_data_->num_classes() != num_classes_) {
    throw DataError("evaluation: the train split has " + std::to_string(num_classes_) + " classes but the held-out split " +
                    std::to_string(test_data_->num_classes()));
  }
  // Labels are indices into each split's own class list: folders named otherwise (train/cat beside val/dog) would
  // pair a class with another's images without a word.
  const std::vector<std::string> train_names = train_data_->class_names(), test_names = test_data_->class_names();
  if (!train_names.empty() && !test_names.empty() && train_names != test_names) {
    std::size_t i = 0;
    while (i < train_names.size() && i < test_names.size() && train_names[i] == test_names[i]) ++i;
    throw DataError("evaluation: the train and held-out splits name their classes differently: class " +
                    std::to_string(i) + " is '" + (i < train_names.size() ? train_names[i] : "") + "' in " +
                    train_data_->describe() + " but '" + (i < test_names.size() ? test_names[i] : "") + "' in " +
                    test_data_->describe());
  }
  for (const auto& s : specs_) {
    evaluators_.push_back(registry_.make_evaluator(s.plugin_cfg, ctx_, s.where));
    const bool tokens = evaluators_.back().call([](sdk::Evaluator& e) { return e.wants_tokens(); });
    if (tokens && s.features != FeatureKind::tokens && s.features != FeatureKind::last) {
      throw ConfigError(s.where + ".features: " + s.type + " reads token features; '" + feature_kind_name(s.features) +
                        "' is a pooled setting (use last)");
    }
  }
}

std::pair<std::int64_t, std::int64_t> Evaluation::images_of(std::size_t i) const {
  const EvaluatorSpec& s = specs_.at(i);
  auto limited = [](std::int64_t size, std::int64_t limit) { return limit > 0 ? std::min(size, limit) : size; };
  return {limited(train_data_->size(), s.train_limit), limited(test_data_->size(), s.test_limit)};
}

Evaluation::Split Evaluation::extract(const Component<sdk::Encoder>& enc, const EvaluatorSpec& s,
                                      const std::string& encoder_name) {
  ExtractOptions o;
  o.kind = s.features;
  o.image_size = image_size_;
  o.batch_size = s.batch_size;
  o.seed = ctx_.seed;
  o.resize_crop = s.resize_crop;
  o.require_labels = true;
  auto report = [this, &o, &encoder_name](const char* split) {
    if (!progress_) return;
    const std::string what = encoder_name + " encoder, " + split + " split";
    o.on_batch = [this, what](std::int64_t done, std::int64_t total) { progress_(what, done, total); };
  };
  Split sp;
  o.limit = s.train_limit;
  report("train");
  sp.train = extract_features(enc, *train_data_, o, device_);
  o.limit = s.test_limit;
  report("test");
  sp.test = extract_features(enc, *test_data_, o, device_);
  return sp;
}

const Component<sdk::Encoder>& Evaluation::random_encoder() {
  if (!random_) {
    // The run's own initialisation: the trainer seeds torch with the run seed, then builds the encoder first.
    auto gen = at::detail::getDefaultCPUGenerator();
    const at::Tensor state = gen.get_state();
    at::manual_seed(ctx_.seed);
    sdk::BuildContext c = ctx_;
    c.encoder_dim = c.encoder_heads = c.encoder_depth = 0;
    random_ = registry_.make_encoder(resolved_.at("components").at("encoder"), c, "components.encoder");
    gen.set_state(state);
    random_->to(device_);
  }
  return random_;
}

namespace {

// A probe needs images of at least two classes; an empty class folder is a class name without images, so the
// labels present are counted, not the names.
void require_two_classes(const at::Tensor& labels, const std::string& what) {
  const at::Tensor known = labels.masked_select(labels >= 0);
  const std::int64_t present = known.numel() == 0 ? 0 : std::get<0>(at::_unique(known)).numel();
  if (present < 2) {
    throw DataError("evaluation needs images of at least 2 classes: " + what + " has images of " +
                    std::to_string(present) + " class" + (present == 1 ? "" : "es") +
                    " (empty class folders do not count)");
  }
}

// An evaluator's own failure inside Evaluation::run with `failed` given (evaluate() or the checks of what it
// returned), told apart from one of the feature extraction: what() is the PluginError's whole line.
struct EvaluatorFailed : std::runtime_error {
  EvaluatorFailed(const std::string& what, bool changed) : std::runtime_error(what), changed_inputs(changed) {}
  bool changed_inputs;  // it changed its (shared) input features in place
};

// The version counters of an evaluator's inputs, summed: any in-place change to one of them raises it.
std::int64_t features_version(const sdk::EvalInput& in) {
  return static_cast<std::int64_t>(in.train.features._version() + in.train.labels._version() +
                                   in.test.features._version() + in.test.labels._version());
}

// An evaluator's metric may not take the name of a field the host writes beside it in eval.jsonl and `ijepa eval`'s
// JSON: it would replace that field (a "step" of -1, an "evaluator" that is a number) and break what reads them.
// train_n and test_n may be reported (the linear probe does), as the counts the evaluator was given.
void check_metric_names(const sdk::Metrics& m, const Component<sdk::Evaluator>& ev, const sdk::EvalInput& in) {
  static const std::set<std::string> host_fields{"evaluator", "where", "features", "encoder",  "seconds",
                                                 "random_init", "gain", "step",  "epoch", "interval95"};
  for (const auto& [k, v] : m) {
    if (host_fields.count(k)) {
      throw PluginError(ev.plugin_id, ev.type + ": evaluate() returned a metric named '" + k + "', a field the host "
                        "records itself (rename the metric)");
    }
    if (!std::isfinite(v)) {  // JSON has no NaN: the record says null, so the log says why
      logging::warn(ev.type + " (plugin " + ev.plugin_id + ") returned " + k + " = " + std::to_string(v) +
                    " (recorded as null)");
    }
    const at::Tensor* given = k == "train_n" ? &in.train.labels : k == "test_n" ? &in.test.labels : nullptr;
    if (given != nullptr && v != static_cast<double>(given->size(0))) {
      throw PluginError(ev.plugin_id, ev.type + ": evaluate() returned " + k + " " + std::to_string(v) + ", but was "
                        "given " + std::to_string(given->size(0)) + " images (the host records " + k + " itself)");
    }
  }
}

}  // namespace

std::vector<EvalResult> Evaluation::run(const std::map<std::string, const Component<sdk::Encoder>*>& encoders,
                                        const std::vector<std::size_t>& which, std::vector<EvalFailure>* failed) {
  std::vector<EvalResult> out;
  // Features are shared by evaluators with the same setting (encoder, features, limits, transform).
  std::map<std::string, Split> cache, random_feats;
  for (std::size_t i : which) {
    const EvaluatorSpec& s = specs_.at(i);
    const auto t0 = std::chrono::steady_clock::now();
    auto it = encoders.find(s.encoder);
    if (it == encoders.end() || it->second == nullptr) {
      throw ConfigError(s.where + ".encoder: no " + s.encoder + " encoder is available here");
    }
    const bool tokens = evaluators_[i].call([](sdk::Evaluator& e) { return e.wants_tokens(); });
    EvaluatorSpec es = s;
    if (tokens) es.features = FeatureKind::tokens;
    const std::string fkey = s.encoder + "|" + feature_kind_name(es.features) + "|" + std::to_string(s.train_limit) +
                             "|" + std::to_string(s.test_limit) + "|" + (s.resize_crop ? "e" : "n");
    if (!cache.count(fkey)) {
      cache[fkey] = extract(*it->second, es, s.encoder);
      require_two_classes(cache[fkey].train.labels, s.where + " (train split: " + train_data_->describe() + ")");
    }
    const Split& sp = cache[fkey];
    EvalResult r;
    r.evaluator = s.type;
    r.where = s.where;
    r.features = feature_kind_name(es.features);
    r.encoder = s.encoder;
    r.train_n = sp.train.features.size(0);
    r.test_n = sp.test.features.size(0);
    // Evaluators that say so (ijepa.device_features/1) take the features on the evaluation device: on a GPU their
    // products run there; the others get them on the CPU.
    const at::Device where = evaluators_[i].call([](sdk::Evaluator& e) {
      return e.capability(sdk::kDeviceFeaturesId) != nullptr;
    }) ? device_ : at::Device(at::kCPU);
    auto score = [&](const Split& x) {
      sdk::EvalInput in;
      in.train = {x.train.features.to(where), x.train.labels.to(where)};
      in.test = {x.test.features.to(where), x.test.labels.to(where)};
      in.num_classes = num_classes_;
      in.seed = ctx_.seed;
      // Evaluators may draw from torch's global generator (module init): keep the host's stream unchanged.
      auto gen = at::detail::getDefaultCPUGenerator();
      const at::Tensor state = gen.get_state();
      const std::int64_t versions = features_version(in);
      try {
        sdk::Metrics m = evaluators_[i].call([&](sdk::Evaluator& e) { return e.evaluate(in); });
        gen.set_state(state);
        // The features are shared with the other evaluators of this setting (and the random-init ones are kept for
        // the run): one changed in place would change their results without a word.
        if (features_version(in) != versions) {
          throw PluginError(evaluators_[i].plugin_id, evaluators_[i].type + ": evaluate() changed its input "
                            "features or labels in place; they are shared with the other evaluators (work on a copy)");
        }
        check_metric_names(m, evaluators_[i], in);
        return m;
      } catch (const PluginError& e) {  // the evaluator's own failure, not the features'
        gen.set_state(state);
        if (failed == nullptr) throw;
        throw EvaluatorFailed(e.what(), features_version(in) != versions);
      }
    };
    try {
      r.trained = score(sp);
      if (s.random_init) {
        const std::string rkey = spec_key(es);
        if (!random_cache_.count(rkey)) {
          const std::string frkey = fkey.substr(fkey.find('|'));  // the random encoder is the same for both roles
          if (!random_feats.count(frkey)) random_feats[frkey] = extract(random_encoder(), es, "random-init");
          random_cache_[rkey] = score(random_feats[frkey]);
        }
        r.random_init = random_cache_[rkey];
      }
    } catch (const EvaluatorFailed& e) {
      // The evaluator's own failure, with `failed` given: the others still run. (Without it, the PluginError ends the
      // run; an error in the features themselves, the encoder's, is every evaluator's and always ends it.)
      failed->push_back({s.type, s.where, e.what()});
      if (e.changed_inputs) {  // the next evaluator of this setting extracts its own
        cache.erase(fkey);
        random_feats.erase(fkey.substr(fkey.find('|')));
      }
      continue;
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.push_back(std::move(r));
  }
  return out;
}

std::string encoder_prefix(const std::string& which) {
  if (which == "target") return "target_encoder.";
  if (which == "context") return "encoder.";
  throw ConfigError("--encoder: expected target or context, got '" + which + "'");
}

Component<sdk::Encoder> encoder_from(const LoadedEncoder& le, const TensorMap& weights, const std::string& which,
                                     const Registry& registry) {
  const std::string prefix = encoder_prefix(which);
  const sdk::BuildContext ctx = experiment_context(le.resolved);
  const std::uint64_t held = bytes_under(weights, prefix);  // this encoder's weights in the checkpoint
  if (held == 0) {
    std::set<std::string> groups;
    for (const auto& [k, v] : weights) groups.insert(k.substr(0, k.find('.')));
    std::string g;
    for (const auto& x : groups) g += (g.empty() ? "" : ", ") + x;
    throw ConfigError(le.origin + ": no '" + prefix + "*' weights for the " + which + " encoder (groups: " +
                      (g.empty() ? "none" : g) + ")");
  }
  // The model comes from a recorded config the file itself carries: it may describe a far larger model than the
  // weights (a tampered D = 32768). Building it may allocate a few times what the checkpoint holds, no more.
  Component<sdk::Encoder> enc;
  {
    const util::AllocationBudget budget(4 * held + (64ull << 20),
                                        le.origin + ": the recorded config's " + which + " encoder (the file holds " +
                                            std::to_string(held >> 20) + " MiB of its weights)");
    enc = registry.make_encoder(le.resolved.at("components").at("encoder"), ctx, "components.encoder");
  }
  load_module_state(*enc, weights, prefix, le.origin);
  return enc;
}

LoadedEncoder load_encoder(const fs::path& path, const std::string& which, const Registry& registry,
                           const std::vector<std::string>& sets, const std::string& config_file, TensorMap* weights_out) {
  (void)encoder_prefix(which);  // an unknown `which` fails before the file is read
  std::error_code ec;
  LoadedEncoder le;
  fs::path weights_file;
  nlohmann::json recorded;
  std::string recorded_from;
  KeyOrigins origins;  // of --config's files
  if (fs::is_directory(path, ec)) {
    le.run_dir = path;
    weights_file = path / "checkpoints" / "latest.safetensors";
    if (!fs::exists(path / "config.resolved.json", ec)) {
      throw ConfigError(path.string() + ": not a run directory (no config.resolved.json)");
    }
    if (!fs::exists(weights_file, ec)) {
      throw ConfigError(path.string() + ": the run has no checkpoint yet (" + weights_file.string() + " is missing)");
    }
  } else if (fs::exists(path, ec)) {
    weights_file = path;
  } else {
    throw ConfigError(path.string() + ": no such run directory or checkpoint file");
  }
  StringMap meta;
  TensorMap weights = read_safetensors(weights_file.string(), &meta);
  verify_checksums(weights, meta, weights_file.string());
  require_finite(weights, weights_file.string());
  le.origin = weights_file.string();
  if (auto it = meta.find("step"); it != meta.end()) {
    try {
      le.step = std::stoll(it->second);
    } catch (const std::exception&) {
      le.step = -1;
    }
  }
  if (!config_file.empty()) {
    recorded = load_layered(config_file, &origins);
    for (const auto& s : sets) forget_origins(origins, s.substr(0, s.find('=')));
    recorded_from = config_file;
  } else if (!le.run_dir.empty()) {
    recorded = load_json_file(le.run_dir / "config.resolved.json");
    recorded_from = (le.run_dir / "config.resolved.json").string();
  } else if (auto it = meta.find("config"); it != meta.end()) {
    // parse_json_text bounds the nesting and names the origin: a tampered 200,000-deep config is one line, not a
    // stack overflow.
    recorded = parse_json_text(it->second, weights_file.string() + " (metadata 'config')");
    recorded_from = weights_file.string() + " (metadata 'config')";
  } else {
    const fs::path run = weights_file.parent_path().parent_path();
    if (weights_file.parent_path().filename() == "checkpoints" && fs::exists(run / "config.resolved.json", ec)) {
      recorded = load_json_file(run / "config.resolved.json");
      recorded_from = (run / "config.resolved.json").string();
      le.run_dir = run;
    } else {
      throw ConfigError(weights_file.string() +
                        ": cannot tell the architecture (no 'config' metadata and no config.resolved.json beside it); "
                        "pass --config EXPERIMENT.json");
    }
  }
  if (!recorded.is_object()) throw ConfigError(recorded_from + ": expected a JSON object");
  nlohmann::json layered = experiment_defaults();
  // A recorded config names its components fully; drop the default component objects it replaces.
  if (recorded.contains("components") && recorded["components"].is_object()) {
    for (auto it = recorded["components"].begin(); it != recorded["components"].end(); ++it) {
      layered["components"][it.key()] = nlohmann::json::object();
    }
  }
  layered.merge_patch(recorded);
  layered["components"]["evaluators"] = nlohmann::json::array();
  if (layered.contains("sweep")) layered.erase("sweep");
  // Only the encoder is built here: a run trained with a masker, predictor or loss plugin that is not loaded (a
  // shared checkpoint without its .so files) still loads, with the built-in component in the unused one's place.
  const std::pair<const char*, Kind> unused[] = {
      {"masker", Kind::masker}, {"predictor", Kind::predictor}, {"loss", Kind::loss}};
  for (const auto& [name, kind] : unused) {
    nlohmann::json& c = layered["components"][name];
    if (c.is_object() && c.contains("type") && c["type"].is_string() &&
        registry.find(kind, c["type"].get<std::string>()) == nullptr) {
      logging::info(recorded_from + ": components." + name + " '" + c["type"].get<std::string>() +
                    "' is not loaded; not needed to load the encoder");
      c = experiment_defaults()["components"][name];
    }
  }
  try {  // a value error names the file (a base file of --config's included) that set the key
    le.resolved = resolve_experiment(layered, sets, registry, recorded_from);
  } catch (const ConfigError& e) {
    throw ConfigError(located_error(e.what(), origins, recorded_from));
  }
  le.encoder = encoder_from(le, weights, which, registry);
  if (weights_out != nullptr) *weights_out = std::move(weights);
  return le;
}

}  // namespace ijepa::host
