#pragma once
// Registrar: the host-owned table a plugin adds its component factories to.
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/sdk/encoder.hpp"
#include "ijepa/sdk/evaluator.hpp"
#include "ijepa/sdk/loss.hpp"
#include "ijepa/sdk/masker.hpp"
#include "ijepa/sdk/predictor.hpp"

namespace ijepa::sdk {

// One registration. `defaults` lists every accepted key with its default; `doc` documents each key.
// `make` receives the merged, validated config (defaults + user keys, without "type").
template <class T>
struct ComponentEntry {
  std::string type;                // registry key, lower snake case ("vit", "multiblock")
  std::string summary;             // one line for `ijepa plugins` / `ijepa describe`
  nlohmann::json defaults;         // JSON object: key -> default value
  nlohmann::json doc;              // JSON object: key -> one-line description (every key of defaults)
  std::function<std::shared_ptr<T>(const nlohmann::json& cfg, const BuildContext& ctx)> make;
};

using MaskerEntry = ComponentEntry<Masker>;
using EncoderEntry = ComponentEntry<Encoder>;
using PredictorEntry = ComponentEntry<Predictor>;
using LossEntry = ComponentEntry<Loss>;
using EvaluatorEntry = ComponentEntry<Evaluator>;

// [main thread, during ijepa_plugin_register only] Throws std::runtime_error on a duplicate or malformed entry.
class IJEPA_SDK_VISIBLE Registrar {
 public:
  virtual void add_masker(MaskerEntry entry) = 0;
  virtual void add_encoder(EncoderEntry entry) = 0;
  virtual void add_predictor(PredictorEntry entry) = 0;
  virtual void add_loss(LossEntry entry) = 0;
  virtual void add_evaluator(EvaluatorEntry entry) = 0;

 protected:
  ~Registrar() = default;
};

}  // namespace ijepa::sdk
