// `ijepa --version`, `ijepa plugins`, `ijepa describe`.
#include "ijepa/host/build_config.hpp"
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <torch/version.h>

#include "cli/commands.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/dist/process_group.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/sdk/version.hpp"
#include "ijepa/host/hosting/abi_check.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/util/sdpa.hpp"

namespace ijepa::host::cli {

std::string workbench_version() { return IJEPA_WORKBENCH_VERSION; }
std::string torch_version() { return TORCH_VERSION; }
std::string cuda_summary() { return util::cuda_summary(); }

void load_plugins(PluginHost& host, const Args& args) {
  LoaderOptions opts;
  for (const auto& d : args.all("--plugin-dir")) opts.extra_dirs.emplace_back(d);
  opts.allow_insecure = args.flag("--allow-insecure-plugins");
  host.load_all(opts);
}

int cmd_version() {
  std::cout << "ijepa-workbench " << workbench_version() << "\n"
            << "plugin SDK " << IJEPA_SDK_VERSION_STRING << "\n"
            << "torch " << torch_version() << "\n"
            << cuda_summary() << "\n"
            << "attention (CUDA): " << util::apply_sdpa_policy(train_defaults().at("sdpa").get<std::string>())
            << " by default (train.sdpa)\n"
            << "distributed backends: " << distributed_backends() << "\n";
  return 0;
}

namespace {

void print_plugins_json(const PluginHost& host) {
  nlohmann::json out;
  out["components"] = nlohmann::json::array();
  for (const auto& e : host.registry().list()) {
    out["components"].push_back({{"kind", kind_name(e.kind)}, {"type", e.type}, {"plugin_id", e.origin.plugin_id},
                                 {"version", e.origin.plugin_version}, {"path", e.origin.path},
                                 {"summary", e.summary}});
  }
  out["plugins"] = nlohmann::json::array();
  for (const auto& l : host.loaded()) {
    out["plugins"].push_back({{"plugin_id", l.plugin_id}, {"version", l.plugin_version}, {"path", l.path},
                              {"sha256", l.sha256}});
  }
  out["rejected"] = nlohmann::json::array();
  for (const auto& r : host.rejected()) out["rejected"].push_back({{"path", r.path}, {"reason", r.reason}});
  out["hints"] = nlohmann::json::array();
  for (const auto& r : host.hints()) out["hints"].push_back({{"path", r.path}, {"hint", r.reason}});
  out["searched"] = nlohmann::json::array();
  for (const auto& d : host.searched()) out["searched"].push_back(d.string());
  std::cout << out.dump(2) << "\n";
}

void print_plugins_table(const PluginHost& host) {
  const auto entries = host.registry().list();
  std::size_t wk = 4, wt = 4, wi = 9, wv = 7;
  for (const auto& e : entries) {
    wk = std::max(wk, std::string(kind_name(e.kind)).size());
    wt = std::max(wt, e.type.size());
    wi = std::max(wi, e.origin.plugin_id.size());
    wv = std::max(wv, e.origin.plugin_version.size());
  }
  auto row = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                 const std::string& f) {
    std::cout << std::left << std::setw(int(wk) + 2) << a << std::setw(int(wt) + 2) << b << std::setw(int(wi) + 2)
              << c << std::setw(int(wv) + 2) << d << f << "\n";
  };
  row("KIND", "TYPE", "PLUGIN ID", "VERSION", "FILE");
  for (const auto& e : entries) row(kind_name(e.kind), e.type, e.origin.plugin_id, e.origin.plugin_version, e.origin.path);
  if (!host.rejected().empty()) {
    std::cout << "\nrejected:\n";
    for (const auto& r : host.rejected()) std::cout << "  " << r.path << ": " << r.reason << "\n";
  }
  if (!host.hints().empty()) {
    std::cout << "\nignored:\n";
    for (const auto& r : host.hints()) std::cout << "  " << r.path << ": " << r.reason << "\n";
  }
}

}  // namespace

int cmd_plugins(const Argv& argv) {
  std::set<std::string> flags = kPluginFlags;
  flags.insert({"--json", "--strict"});
  Args args(argv, kPluginOptions, flags);
  if (!args.positionals().empty()) throw UsageError("unexpected argument '" + args.positionals()[0] + "'");
  PluginHost host;
  load_plugins(host, args);
  bool builtin_ok = !host.loaded().empty();
  const std::string builtin = builtin_plugin_dir().string();
  if (!builtin.empty()) {
    for (const auto& r : host.rejected()) {
      if (r.path.rfind(builtin, 0) == 0) builtin_ok = false;
    }
  } else {
    builtin_ok = false;
  }
  if (args.flag("--json")) {
    print_plugins_json(host);
  } else {
    print_plugins_table(host);
  }
  if (!builtin_ok) {
    std::cerr << "ijepa plugins: the built-in plugins did not all load"
              << (builtin.empty() ? " (no built-in plugin directory found next to the executable)" : "") << "\n";
    return 1;
  }
  if (args.flag("--strict") && !host.rejected().empty()) {
    std::cerr << "ijepa plugins: " << host.rejected().size() << " plugin file(s) or director(ies) rejected (--strict): "
              << host.rejected().front().path << ": " << host.rejected().front().reason << "\n";
    return 1;
  }
  return 0;
}

int cmd_describe(const Argv& argv) {
  Args args(argv, kPluginOptions, kPluginFlags);
  if (args.positionals().size() != 1) throw UsageError("usage: ijepa describe KIND/TYPE (e.g. encoder/vit)");
  const std::string spec = args.positionals()[0];
  auto slash = spec.find('/');
  if (slash == std::string::npos) throw UsageError("expected KIND/TYPE, got '" + spec + "'");
  Kind kind;
  try {
    kind = parse_kind(spec.substr(0, slash));
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  PluginHost host;
  load_plugins(host, args);
  const std::string type = spec.substr(slash + 1);
  const EntryInfo* e = host.registry().find(kind, type);
  if (e == nullptr) {
    std::string known;
    for (const auto& t : host.registry().types(kind)) known += (known.empty() ? "" : ", ") + t;
    std::cerr << "ijepa describe: error: no " << kind_name(kind) << " plugin '" << type << "' is loaded (available: "
              << (known.empty() ? "none" : known) << "; a plugin of your own: --plugin-dir DIR)\n";
    return 1;
  }
  nlohmann::json out;
  out["kind"] = kind_name(kind);
  out["type"] = e->type;
  out["plugin_id"] = e->origin.plugin_id;
  out["version"] = e->origin.plugin_version;
  out["file"] = e->origin.path;
  out["summary"] = e->summary;
  nlohmann::json defaults = e->defaults;
  defaults["type"] = e->type;
  out["defaults"] = defaults;
  out["doc"] = e->doc;
  if (kind == Kind::evaluator) {  // keys the host reads from every components.evaluators entry
    out["host_defaults"] = evaluator_host_defaults();
    out["host_doc"] = evaluator_host_doc();
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace ijepa::host::cli
