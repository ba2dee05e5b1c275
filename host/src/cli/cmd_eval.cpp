// `ijepa eval RUN_DIR|CHECKPOINT --evaluator TYPE ...` and `ijepa embed --checkpoint FILE --data ... --out F`.
#include <unistd.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/bench_util.hpp"
#include "cli/commands.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/host/log/progress_line.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/util/stats.hpp"

namespace fs = std::filesystem;

namespace ijepa::host::cli {

namespace {

bool is_source_name(const std::string& s) {
  return s == "fashion_mnist" || s == "cifar10_jpeg" || s == "imagenette" || s == "synthetic" || s == "image_folder";
}

// --data VALUE -> --set assignments on the experiment's data section. A source name switches the source (its default
// location); a directory is an image folder: with train/ and val/ (or test/) inside, those are the two splits,
// otherwise (when `single_split_ok`) the directory itself serves every split.
std::vector<std::string> data_sets(const std::string& value, bool single_split_ok) {
  std::error_code ec;
  if (fs::is_directory(value, ec)) {
    const fs::path d = fs::absolute(value);
    fs::path held;
    for (const char* h : {"val", "test"}) {
      if (fs::is_directory(d / h, ec)) {
        held = d / h;
        break;
      }
    }
    if (fs::is_directory(d / "train", ec) && !held.empty()) {
      return {"data.source=image_folder", "data.root=" + (d / "train").string(), "data.val_root=" + held.string(),
              "data.file_list="};
    }
    if (!single_split_ok) {
      throw UsageError("--data " + value + ": an evaluation needs labelled train/ and val/ (or test/) class folders inside");
    }
    return {"data.source=image_folder", "data.root=" + d.string(), "data.val_root=" + d.string(), "data.file_list="};
  }
  if (is_source_name(value)) return {"data.source=" + value, "data.root=", "data.file_list="};
  throw UsageError("--data " + value +
                   ": neither a directory nor a source (fashion_mnist, cifar10_jpeg, imagenette, synthetic)");
}

at::Device cli_device(const std::optional<std::string>& d) {
  if (!d || *d == "cpu") return at::Device(at::kCPU);
  if (d->rfind("cuda", 0) == 0) {
    if (!util::cuda_available()) throw UsageError("--device " + *d + ": CUDA is not available on this machine");
    return at::Device(*d);
  }
  throw UsageError("--device: expected cpu, cuda or cuda:N, got '" + *d + "'");
}

std::string pct(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", v);
  return b;
}

std::string signed_pct(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%+.2f", v);
  return b;
}

}  // namespace

namespace {
// An eval record's test images (the linear probe writes the count as a float); 0 when it has none.
std::int64_t test_count(const nlohmann::json& rec) {
  return rec.contains("test_n") && rec["test_n"].is_number() ? std::llround(rec["test_n"].get<double>()) : 0;
}

// The 95 % interval of the accuracy rec[key] over n test images (the bootstrap's), widened by the label samples'
// spread where the figure is a mean over samples (low_shot with samples >= 2: sd_<key> and samples beside it).
util::Interval accuracy_interval(const nlohmann::json& rec, const std::string& key, std::int64_t n) {
  const double x = rec[key].get<double>();
  return util::widen(util::accuracy_bootstrap(x, n), x, label_sample_half(rec, "", key));
}
}  // namespace

void print_eval_table(std::ostream& os, const std::vector<nlohmann::json>& records) {
  char line[256];
  // ("±" is two bytes: its column is one wider in the header)
  std::snprintf(line, sizeof(line), "  %-16s %-8s %-12s %9s %8s %12s %8s %8s\n", "evaluator", "features", "metric",
                "trained", "±95%", "random init", "gain", "test n");
  os << line;
  for (const auto& r : records) {
    // How finely the test images (and, for a mean over label samples, the samples) resolve an accuracy: the 95 %
    // interval's larger side (as the sweep summaries give it).
    const std::int64_t n = test_count(r);
    for (auto it = r.begin(); it != r.end(); ++it) {
      if (!is_accuracy(it.key()) || !it->is_number()) continue;
      const bool has_rand = r.contains("random_init") && r["random_init"].contains(it.key());
      std::string half = "-";
      if (n >= 1) {
        half = pct(accuracy_interval(r, it.key(), n).half_around(it->get<double>()));
      }
      std::snprintf(line, sizeof(line), "  %-16s %-8s %-12s %9s %7s %12s %8s %8s\n",
                    r.value("evaluator", "?").c_str(), r.value("features", "?").c_str(), it.key().c_str(),
                    pct(it->get<double>()).c_str(), half.c_str(),
                    has_rand ? pct(r["random_init"][it.key()].get<double>()).c_str() : "-",
                    has_rand ? signed_pct(it->get<double>() - r["random_init"][it.key()].get<double>()).c_str() : "-",
                    n >= 1 ? std::to_string(n).c_str() : "-");
      os << line;
    }
  }
  os << "  ±95%: the larger side of the 95 % bootstrap interval over the test images (asymmetric near 0 and 100 %: "
        "its ends are the JSON's interval95; a gain smaller than it is not resolved by this test set); a mean over "
        "label samples (low_shot samples >= 2) adds their spread\n";
  // An evaluator that reports "converged" (linear_probe; low_shot's converged_<p>) and whose fit stopped at its cap:
  // the accuracy is an unfinished fit's, and a cut-short fit favours the features the optimiser finds easy. The same
  // for the held-out fits that chose lambda ("path_capped").
  for (const auto& r : records) {
    std::string cut, path;
    for (const auto* side : {&r, r.contains("random_init") ? &r["random_init"] : nullptr}) {
      if (side == nullptr || !side->is_object()) continue;
      const std::string who = side == &r ? "trained" : "random init";
      for (auto it = side->begin(); it != side->end(); ++it) {
        if (!it->is_number()) continue;
        const bool flag = it.key() == "converged" || it.key().rfind("converged_", 0) == 0;
        if (flag && it->get<double>() == 0.0) cut += (cut.empty() ? "" : ", ") + who + " " + it.key();
        if (it.key() == "path_capped" && it->get<double>() > 0.0) {
          path += (path.empty() ? "" : ", ") + who + " " + std::to_string(std::llround(it->get<double>()));
        }
      }
    }
    const std::string ev = r.value("evaluator", "?");
    if (!cut.empty()) {
      os << "  note: " << ev << " stopped at its iteration cap before converging (" << cut
         << " = 0): the accuracy is an unfinished fit's, and the gain may come from the cap; raise max_iter\n";
    }
    if (!path.empty()) {
      os << "  note: " << ev << "'s lambda was chosen among held-out fits some of which stopped at the iteration cap ("
         << path << "); raise max_iter for a choice among finished fits\n";
    }
  }
}

namespace {

// The data values a --set may have made wrong, checked before any image is read, naming the --set.
void check_data_values(const LoadedEncoder& le, const std::vector<std::string>& sets) {
  try {
    validate_data_config(le.resolved.at("data"));
  } catch (const ConfigError& e) {
    throw ConfigError(with_set_origin(e.what(), sets));
  }
}

// --set: data./train./components./seed go to the experiment, anything else to every evaluator entry; --data first.
std::pair<std::vector<std::string>, std::vector<std::string>> split_sets(const Args& args) {
  std::vector<std::string> exp_sets, eval_sets;
  for (const auto& s : args.all("--set")) {
    const std::string key = s.substr(0, s.find('='));
    if (s.find('=') == std::string::npos) throw UsageError("--set " + s + ": expected key=value");
    const bool exp = key.rfind("data.", 0) == 0 || key.rfind("train.", 0) == 0 || key.rfind("components.", 0) == 0 ||
                     key == "seed";
    (exp ? exp_sets : eval_sets).push_back(s);
  }
  if (auto d = args.get("--data")) {
    std::vector<std::string> ds = data_sets(*d, false);
    exp_sets.insert(exp_sets.begin(), ds.begin(), ds.end());
  }
  return {exp_sets, eval_sets};
}

std::vector<EvaluatorSpec> evaluator_specs(const Args& args, const std::vector<std::string>& types,
                                           const std::vector<std::string>& eval_sets, const std::string& which,
                                           const Registry& registry) {
  std::vector<EvaluatorSpec> specs;
  for (const std::string& type : types) {
    const std::string where = "--evaluator " + type;
    nlohmann::json entry = {{"type", type}, {"encoder", which}};
    if (args.flag("--no-random-init")) entry["random_init"] = false;
    for (const auto& s : eval_sets) apply_override(entry, "+" + s, "--set");
    auto [host_keys, plugin_cfg] = split_evaluator_entry(entry, where);
    nlohmann::json resolved_entry;
    try {  // key paths as the --set wrote them ('foo', not '--evaluator knn.foo'), the flag in front
      resolved_entry = registry.resolve(Kind::evaluator, plugin_cfg, "", evaluator_host_keys());
    } catch (const ConfigError& e) {
      throw ConfigError(where + ": " + e.what());
    }
    for (auto it = host_keys.begin(); it != host_keys.end(); ++it) resolved_entry[it.key()] = it.value();
    specs.push_back(parse_evaluator(resolved_entry, where));
  }
  return specs;
}

// --out, or RUN_DIR/eval/<types>_step<N>.json, or <types>_<checkpoint stem>.eval.json; a default name that is taken
// (an earlier evaluation of the same step with other settings, another run's checkpoint of the same name) gets the
// first free "-2", "-3", ... before its extension: an evaluation never replaces another one's file unless --out
// says so. The name is claimed when the report is written (write_file_new), so two evaluations finishing at once
// get two names.
struct EvalOutput {
  fs::path path;        // --out, or the first candidate of the default name: dir / (stem + ext)
  bool chosen = false;  // --out: written over whatever is there
  fs::path dir;
  std::string stem, ext;
  fs::path candidate(int i) const { return dir / (stem + (i < 2 ? "" : "-" + std::to_string(i)) + ext); }
};

EvalOutput eval_output(const Args& args, const std::vector<std::string>& types, const LoadedEncoder& le) {
  if (auto o = args.get("--out")) return {*o, true, {}, {}, {}};
  std::string name;
  for (const auto& t : types) name += (name.empty() ? "" : "+") + t;
  const bool in_run = !le.run_dir.empty();
  const fs::path dir = in_run ? le.run_dir / "eval" : fs::path();
  const std::string stem = in_run ? name + "_step" + std::to_string(le.step)
                                  : name + "_" + fs::path(le.origin).stem().string();
  const std::string ext = in_run ? ".json" : ".eval.json";
  return {dir / (stem + ext), false, dir, stem, ext};
}

void write_eval_report(const EvalOutput& where, const LoadedEncoder& le, const std::string& which,
                       const std::vector<EvaluatorSpec>& specs, const std::vector<EvalResult>& results,
                       const std::vector<EvalFailure>& failed) {
  nlohmann::json doc = {{"weights", le.origin},
                        {"step", le.step},
                        {"encoder", which},
                        {"data", le.resolved.at("data")},
                        {"encoder_config", le.resolved.at("components").at("encoder")},
                        {"results", nlohmann::json::array()}};
  // What the figures depend on besides the weights, so that the file alone reproduces them: the seed (the probes'
  // and the random-init encoder's), each evaluator's whole config and the intra-op threads (a solver's sums).
  doc["seed"] = le.resolved.value("seed", nlohmann::json());
  doc["threads"] = at::get_num_threads();
  doc["evaluators"] = nlohmann::json::array();
  for (const EvaluatorSpec& s : specs) {
    doc["evaluators"].push_back({{"where", s.where},
                                 {"config", s.plugin_cfg},
                                 {"features", feature_kind_name(s.features)},
                                 {"train_limit", s.train_limit},
                                 {"test_limit", s.test_limit},
                                 {"batch_size", s.batch_size},
                                 {"random_init", s.random_init},
                                 {"resize_crop", s.resize_crop}});
  }
  std::vector<nlohmann::json> recs;
  for (const auto& r : results) {
    recs.push_back(r.to_json());
    nlohmann::json rec = recs.back();
    // Each accuracy's 95 % interval, [lo, hi] in percent (the table's ±95%): the bootstrap's over the test images,
    // widened by the label samples' spread for a mean over samples.
    const std::int64_t n = test_count(rec);
    for (auto it = recs.back().begin(); n >= 1 && it != recs.back().end(); ++it) {
      if (!is_accuracy(it.key()) || !it->is_number()) continue;
      const util::Interval iv = accuracy_interval(recs.back(), it.key(), n);
      rec["interval95"][it.key()] = {iv.lo, iv.hi};
    }
    doc["results"].push_back(rec);
  }
  for (const EvalFailure& f : failed) {
    doc["failed"].push_back({{"evaluator", f.evaluator}, {"where", f.where}, {"error", f.error}});
  }
  if (!where.path.parent_path().empty()) fs::create_directories(where.path.parent_path());
  fs::path out = where.path;
  if (where.chosen) {
    write_file_atomic(out, doc.dump(2) + "\n");
  } else {
    for (int i = 2; !write_file_new(out, doc.dump(2) + "\n"); ++i) out = where.candidate(i);
  }
  std::cout << "== ijepa eval: " << le.origin << (le.step >= 0 ? " (step " + std::to_string(le.step) + ")" : "")
            << ", " << which << " encoder ==\n";
  print_eval_table(std::cout, recs);
  std::cout << "  json           " << out.string() << "\n";
}

struct EmbedOptions {
  FeatureKind kind = FeatureKind::last;
  std::string split, transform;
  std::vector<std::string> sets;
};

EmbedOptions embed_options(const Args& args) {
  EmbedOptions e;
  const int modes = static_cast<int>(args.flag("--pooled")) + static_cast<int>(args.flag("--tokens")) +
                    static_cast<int>(args.flag("--last4"));
  if (modes > 1) throw UsageError("choose one of --pooled, --last4, --tokens");
  e.kind = args.flag("--tokens") ? FeatureKind::tokens : args.flag("--last4") ? FeatureKind::last4 : FeatureKind::last;
  e.split = args.get("--split").value_or("train");
  if (e.split != "train" && e.split != "test" && e.split != "val") throw UsageError("--split: expected train, test or val");
  e.transform = args.get("--transform").value_or("eval");
  if (e.transform != "eval" && e.transform != "none") throw UsageError("--transform: expected eval or none");
  if (auto t = args.get("--threads")) at::set_num_threads(static_cast<int>(int_at_least(args, "--threads", 0, 1)));
  e.sets = args.all("--set");
  for (const auto& s : e.sets) {
    if (s.rfind("data.", 0) != 0 && s.rfind("components.encoder.", 0) != 0) {
      throw UsageError("--set " + s + ": embed takes data.* and components.encoder.* keys");
    }
  }
  if (auto d = args.get("--data")) {
    std::vector<std::string> ds = data_sets(*d, true);
    e.sets.insert(e.sets.begin(), ds.begin(), ds.end());
  }
  return e;
}

void write_features(const std::string& out, const Features& f, const Dataset& data, const LoadedEncoder& le,
                    const std::string& which, const EmbedOptions& e, std::int64_t image_size, double secs) {
  nlohmann::json classes = data.class_names();
  const StringMap meta = {{"format", "ijepa-features"},
                          {"weights", le.origin},
                          {"encoder", which},
                          {"features", feature_kind_name(e.kind)},
                          {"data", data.describe()},
                          {"split", e.split},
                          {"transform", e.transform},
                          {"image_size", std::to_string(image_size)},
                          {"class_names", classes.dump()},
                          {"encoder_config", le.resolved.at("components").at("encoder").dump()}};
  // Claimed, not overwritten: a file that appeared at --out while the features were computed (another embed, the
  // user's) stays as it is, and these features go beside it under a name of their own.
  const std::string bytes =
      serialize_safetensors({{"features", f.features}, {"labels", f.labels}, {"indices", f.indices}}, meta);
  if (!write_file_new(out, bytes)) {
    const fs::path o(out);
    const fs::path beside = o.parent_path() / (o.stem().string() + "." + std::to_string(::getpid()) +
                                               o.extension().string());
    if (!write_file_new(beside, bytes)) {
      throw ConfigError("--out " + out + ": appeared while embed worked, and so did " + beside.string() +
                        "; nothing written");
    }
    throw ConfigError("--out " + out + ": appeared while embed worked (another process made it) and is left as it "
                      "is; the features were written to " + beside.string());
  }
  std::ostringstream shape;
  for (std::int64_t d = 0; d < f.features.dim(); ++d) shape << (d ? " x " : "") << f.features.size(d);
  std::cout << "== ijepa embed: " << f.features.size(0) << " images of " << data.describe() << " ==\n"
            << "  weights        " << le.origin << " (" << which << " encoder)\n"
            << "  features       " << feature_kind_name(e.kind) << ", float32 [" << shape.str() << "]\n"
            << "  time           " << fmt(secs) << " s, " << fmt(static_cast<double>(f.features.size(0)) / secs)
            << " images/s\n"
            << "  out            " << out << "  (tensors features, labels, indices)\n";
}

}  // namespace

int cmd_eval(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--evaluator", "--set", "--data", "--out", "--encoder", "--config", "--device", "--threads"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--no-random-init"});
  Args args(argv, valued, flags);
  const std::string usage =
      "usage: ijepa eval RUN_DIR|CHECKPOINT --evaluator TYPE [--evaluator TYPE]... [--set key=value]... "
      "[--data SOURCE|DIR] [--encoder target|context] [--config EXP.json] [--out FILE.json] [--device cpu|cuda] "
      "[--threads N] [--no-random-init]";
  if (args.positionals().size() != 1) throw UsageError(usage);
  if (auto out = args.get("--out")) check_output_file("--out", *out, /*may_replace=*/true);
  const std::vector<std::string> types = args.all("--evaluator");
  if (types.empty()) throw UsageError("--evaluator TYPE is required (see `ijepa plugins`); " + usage);
  if (auto t = args.get("--threads")) at::set_num_threads(static_cast<int>(int_at_least(args, "--threads", 0, 1)));
  PluginHost host;
  load_plugins(host, args);
  const auto [exp_sets, eval_sets] = split_sets(args);
  const std::string which = args.get("--encoder").value_or("target");
  LoadedEncoder le =
      load_encoder(args.positionals()[0], which, host.registry(), exp_sets, args.get("--config").value_or(""));
  check_data_values(le, exp_sets);
  const EvalOutput output = eval_output(args, types, le);
  if (!output.chosen) {  // RUN_DIR/eval (made with the report) or the current folder, checked before the work
    const fs::path folder = output.dir.empty()        ? fs::path(".")
                            : fs::exists(output.dir) ? output.dir
                                                     : output.dir.parent_path();
    check_writable_folder("the report " + output.path.string(), folder);
  }
  const at::Device device = cli_device(args.get("--device"));
  le.encoder->to(device);
  const std::vector<EvaluatorSpec> specs = evaluator_specs(args, types, eval_sets, which, host.registry());
  Evaluation evaluation(le.resolved, specs, host.registry(), with_encoder(experiment_context(le.resolved), *le.encoder),
                        device);
  std::vector<std::size_t> all(specs.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    all[i] = i;
    // What the work is before it starts (the whole splits by default: minutes on a CPU for 60,000 images).
    const auto [train_n, test_n] = evaluation.images_of(i);
    std::string what = "ijepa eval: " + specs[i].type + ": features of " + std::to_string(train_n) + " train and " +
                       std::to_string(test_n) + " test images";
    if (specs[i].random_init) what += ", for the trained and the random-init encoder";
    if (specs[i].train_limit == 0 || specs[i].test_limit == 0) what += " (--set train_limit=N / test_limit=N: fewer)";
    std::cerr << what << std::endl;  // stderr: stdout keeps the table
  }
  ProgressLine progress(std::cerr, ::isatty(STDERR_FILENO) != 0);
  evaluation.on_progress([&progress](const std::string& what, std::int64_t done, std::int64_t total) {
    progress.update(what, done, total);
  });
  std::vector<EvalFailure> failed;  // one evaluator's failure does not cost the others' results
  const std::vector<EvalResult> results = evaluation.run({{which, &le.encoder}}, all, &failed);
  progress.finish();
  if (!results.empty()) write_eval_report(output, le, which, specs, results, failed);
  for (const EvalFailure& f : failed) std::cerr << "ijepa eval: error: " << f.where << ": " << f.error << "\n";
  return failed.empty() ? 0 : 1;
}

int cmd_embed(const Argv& argv) {
  std::set<std::string> valued = kPluginOptions;
  valued.insert({"--checkpoint", "--data", "--out", "--encoder", "--split", "--limit", "--batch", "--set", "--config",
                 "--transform", "--device", "--seed", "--threads"});
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--pooled", "--tokens", "--last4"});
  Args args(argv, valued, flags);
  const std::string usage =
      "usage: ijepa embed --checkpoint FILE|RUN_DIR --data SOURCE|DIR --out FEATURES.safetensors "
      "[--pooled|--last4|--tokens] [--encoder target|context] [--split train|test|val] [--limit N] [--batch B] "
      "[--transform eval|none] [--set data.key=value]... [--config EXP.json] [--device cpu|cuda]";
  if (!args.positionals().empty()) throw UsageError(usage);
  const std::string ckpt = args.require("--checkpoint");
  const std::string out = args.require("--out");
  check_output_file("--out", out, /*may_replace=*/false);
  const EmbedOptions e = embed_options(args);
  PluginHost host;
  load_plugins(host, args);
  const std::string which = args.get("--encoder").value_or("target");
  LoadedEncoder le = load_encoder(ckpt, which, host.registry(), e.sets, args.get("--config").value_or(""));
  check_data_values(le, e.sets);
  const at::Device device = cli_device(args.get("--device"));
  le.encoder->to(device);
  auto data = open_dataset(le.resolved.at("data"), e.split == "train" ? "train" : "test");
  ExtractOptions o;
  o.kind = e.kind;
  o.image_size = le.resolved.at("data").at("image_size").get<std::int64_t>();
  o.batch_size = int_at_least(args, "--batch", 256, 1);
  o.limit = int_at_least(args, "--limit", 0, 0);
  // The run's seed by default: the subset `ijepa eval` (and the run's own evaluators) took with the same --limit.
  const nlohmann::json run_seed = le.resolved.value("seed", nlohmann::json());
  const std::int64_t seed0 = run_seed.is_number_integer() && run_seed.get<std::int64_t>() >= 0
                                 ? run_seed.get<std::int64_t>() : 0;
  o.seed = static_cast<std::uint64_t>(int_at_least(args, "--seed", seed0, 0));
  o.resize_crop = e.transform == "eval";
  ProgressLine progress(std::cerr, ::isatty(STDERR_FILENO) != 0);
  const std::string what = which + " encoder, " + e.split + " split";
  o.on_batch = [&](std::int64_t done, std::int64_t total) { progress.update(what, done, total); };
  const auto t0 = std::chrono::steady_clock::now();
  Features f = extract_features(le.encoder, *data, o, device);
  progress.finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_features(out, f, *data, le, which, e, o.image_size, secs);
  return 0;
}

}  // namespace ijepa::host::cli
