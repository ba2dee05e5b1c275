#include "ijepa/host/config/evaluator_spec.hpp"

namespace ijepa::host {

FeatureKind parse_feature_kind(const std::string& s, const std::string& where) {
  if (s == "last") return FeatureKind::last;
  if (s == "last4") return FeatureKind::last4;
  if (s == "tokens") return FeatureKind::tokens;
  throw ConfigError(where + ": expected last, last4 or tokens, got '" + s + "'");
}

std::string feature_kind_name(FeatureKind k) {
  switch (k) {
    case FeatureKind::last: return "last";
    case FeatureKind::last4: return "last4";
    case FeatureKind::tokens: return "tokens";
  }
  return "?";
}

nlohmann::json evaluator_host_defaults() {
  return {{"every_steps", 0},   {"every_epochs", 0}, {"at_end", true},     {"features", "last"},
          {"encoder", "target"}, {"train_limit", 0}, {"test_limit", 0},   {"batch_size", 256},
          {"random_init", true}, {"transform", "eval"}};
}

std::vector<std::string> evaluator_host_keys() {
  std::vector<std::string> keys;
  const nlohmann::json d = evaluator_host_defaults();
  for (auto it = d.begin(); it != d.end(); ++it) keys.push_back(it.key());
  return keys;
}

nlohmann::json evaluator_host_doc() {
  return {{"every_steps", "during training: evaluate every N steps (0 = never by steps)"},
          {"every_epochs", "during training: evaluate after every N-th epoch (0 = never by epochs)"},
          {"at_end", "during training: evaluate when the run ends"},
          {"features", "frozen features: last (mean of the final normed tokens, the paper's default), last4 "
                       "(concatenated token means of the last 4 blocks) or tokens (for token probes)"},
          {"encoder", "which encoder is probed: target (the EMA encoder, the paper's choice) or context"},
          {"train_limit", "fit on a seeded random subset of N training images (0 = the whole train split)"},
          {"test_limit", "score on a seeded random subset of N held-out images (0 = the whole split)"},
          {"batch_size", "images per forward pass while extracting features"},
          {"random_init", "also score a randomly initialised encoder of the same architecture (the baseline)"},
          {"transform", "eval: Resize(round(S*256/224)) + CenterCrop(S) (official); none: images must be S x S"}};
}

std::pair<nlohmann::json, nlohmann::json> split_evaluator_entry(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) throw ConfigError(where + ": expected an object with a \"type\"");
  nlohmann::json host = evaluator_host_defaults();
  nlohmann::json plugin = nlohmann::json::object();
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (host.contains(it.key())) {
      const nlohmann::json& def = host[it.key()];
      const bool ok = (def.is_boolean() && it->is_boolean()) || (def.is_string() && it->is_string()) ||
                      (def.is_number_integer() && it->is_number_integer());
      if (!ok) {
        throw ConfigError(where + "." + it.key() + ": expected " + std::string(def.type_name()) + ", got " + it->dump());
      }
      host[it.key()] = *it;
    } else {
      plugin[it.key()] = *it;
    }
  }
  return {host, plugin};
}

EvaluatorSpec parse_evaluator(const nlohmann::json& entry, const std::string& where) {
  auto [host, plugin] = split_evaluator_entry(entry, where);
  EvaluatorSpec s;
  s.where = where;
  s.type = plugin.value("type", "");
  s.plugin_cfg = plugin;
  s.every_steps = host["every_steps"].get<std::int64_t>();
  s.every_epochs = host["every_epochs"].get<std::int64_t>();
  s.at_end = host["at_end"].get<bool>();
  s.features = parse_feature_kind(host["features"].get<std::string>(), where + ".features");
  s.encoder = host["encoder"].get<std::string>();
  if (s.encoder != "target" && s.encoder != "context") {
    throw ConfigError(where + ".encoder: expected target or context, got '" + s.encoder + "'");
  }
  s.train_limit = host["train_limit"].get<std::int64_t>();
  s.test_limit = host["test_limit"].get<std::int64_t>();
  s.batch_size = host["batch_size"].get<std::int64_t>();
  s.random_init = host["random_init"].get<bool>();
  const std::string tr = host["transform"].get<std::string>();
  if (tr != "eval" && tr != "none") throw ConfigError(where + ".transform: expected eval or none, got '" + tr + "'");
  s.resize_crop = tr == "eval";
  for (const char* k : {"every_steps", "every_epochs", "train_limit", "test_limit"}) {
    if (host[k].get<std::int64_t>() < 0) throw ConfigError(where + "." + k + ": must be >= 0");
  }
  if (s.batch_size < 1) throw ConfigError(where + ".batch_size: must be >= 1");
  return s;
}

}  // namespace ijepa::host
