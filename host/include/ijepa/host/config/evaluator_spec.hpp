#pragma once
// The host-owned part of an evaluator entry of components.evaluators (schedule, features, limits): parsed and
// validated with the rest of the config; the evaluation layer reads the parsed spec.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ijepa/host/util/errors.hpp"

namespace ijepa::host {

// What a feature vector is (spec §10):
//   last   mean over tokens of the final (layer-normed) output        [N, D]
//   last4  concatenated token means of the last four blocks' outputs   [N, 4D] (ijepa.layer_outputs/1; the last of
//          the four carries the final norm, the others are raw block outputs)
//   tokens the final output's tokens                                   [N, T, D]
enum class FeatureKind { last, last4, tokens };
FeatureKind parse_feature_kind(const std::string& s, const std::string& where);  // throws ConfigError
std::string feature_kind_name(FeatureKind k);

// Host-owned keys of an entry of components.evaluators (everything else belongs to the evaluator plugin).
nlohmann::json evaluator_host_defaults();
nlohmann::json evaluator_host_doc();
// evaluator_host_keys() -> the names of evaluator_host_defaults() (for a misspelt key's "did you mean").
std::vector<std::string> evaluator_host_keys();
// split_evaluator_entry(entry) -> {host keys (defaults filled), plugin config (with "type")}; throws ConfigError on a
// host key of the wrong type.
std::pair<nlohmann::json, nlohmann::json> split_evaluator_entry(const nlohmann::json& entry, const std::string& where);

struct EvaluatorSpec {
  std::string where;           // "components.evaluators.0"
  std::string type;            // "linear_probe"
  nlohmann::json plugin_cfg;   // resolved plugin config incl. "type"
  std::int64_t every_steps = 0;
  std::int64_t every_epochs = 0;
  bool at_end = true;
  FeatureKind features = FeatureKind::last;
  std::string encoder = "target";  // target | context
  std::int64_t train_limit = 0, test_limit = 0;
  std::int64_t batch_size = 256;
  bool random_init = true;
  bool resize_crop = true;
};
// parse_evaluator(resolved_entry, where) -> the spec (validates host keys).
EvaluatorSpec parse_evaluator(const nlohmann::json& entry, const std::string& where);

}  // namespace ijepa::host
