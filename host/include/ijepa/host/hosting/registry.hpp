#pragma once
// The one host-owned registry of component factories, keyed by (kind, type).
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/util/errors.hpp"
#include "ijepa/sdk/registrar.hpp"

namespace ijepa::host {

enum class Kind { masker, encoder, predictor, loss, evaluator };
const char* kind_name(Kind k);
Kind parse_kind(const std::string& s);  // throws std::invalid_argument naming the valid kinds

// An error raised by plugin code, tagged with the plugin that raised it. Owns its message (copied at once).
class PluginError : public std::runtime_error {
 public:
  PluginError(const std::string& plugin_id, const std::string& what)
      : std::runtime_error("plugin " + plugin_id + ": " + what), plugin_id_(plugin_id) {}
  const std::string& plugin_id() const { return plugin_id_; }

 private:
  std::string plugin_id_;
};

// Who registered an entry.
struct Origin {
  std::string plugin_id;
  std::string plugin_version;
  std::string path;
  std::shared_ptr<void> library;  // keeps the shared library mapped while entries or objects live
  const IjepaHostServices* services = nullptr;  // the plugin's own (tagged) services, handed to its factories
};

// What `ijepa plugins` / `ijepa describe` show.
struct EntryInfo {
  Kind kind;
  std::string type;
  std::string summary;
  nlohmann::json defaults;
  nlohmann::json doc;
  Origin origin;
};

// joined_lines(text) -> text on one line: its non-empty lines joined with " / " (a plugin's multi-line message must
// not break the one-line error, status.json's error, or a sweep's summary, which reads a log's last line).
inline std::string joined_lines(const std::string& text) {
  std::string out, line;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '\n' && text[i] != '\r') {
      line += text[i];
      continue;
    }
    if (line.find_first_not_of(" \t") != std::string::npos) out += (out.empty() ? "" : " / ") + line;
    line.clear();
  }
  return out;
}

// A built component: the object, pinned to its library, plus who made it. call() tags exceptions.
template <class T>
struct Component {
  std::shared_ptr<T> ptr;
  std::string plugin_id;
  std::string type;

  T& operator*() const { return *ptr; }
  T* operator->() const { return ptr.get(); }
  explicit operator bool() const { return static_cast<bool>(ptr); }
  // call([](T& obj) { return obj.method(...); }) -> the result; any exception becomes a PluginError.
  template <class F>
  decltype(auto) call(F&& f) const {
    try {
      return f(*ptr);
    } catch (const PluginError&) {
      throw;
    } catch (const c10::Error& e) {  // drop torch's backtrace: one line
      std::string msg = e.what_without_backtrace();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      throw PluginError(plugin_id, type + ": " + msg);
    } catch (const std::exception& e) {
      throw PluginError(plugin_id, type + ": " + joined_lines(e.what()));
    } catch (...) {
      throw PluginError(plugin_id, type + ": unknown exception");
    }
  }
};

class Registry final : public sdk::Registrar {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry() = default;

  // Registration scope: entries added between begin and commit are attributed to `origin`;
  // abort() drops them (a plugin whose register failed leaves nothing behind).
  void begin(Origin origin);
  void commit();
  void abort();
  const std::string& scope_error() const { return scope_error_; }

  void add_masker(sdk::MaskerEntry entry) override;
  void add_encoder(sdk::EncoderEntry entry) override;
  void add_predictor(sdk::PredictorEntry entry) override;
  void add_loss(sdk::LossEntry entry) override;
  void add_evaluator(sdk::EvaluatorEntry entry) override;

  std::vector<EntryInfo> list() const;  // sorted by (kind, type)
  const EntryInfo* find(Kind kind, const std::string& type) const;
  std::vector<std::string> types(Kind kind) const;

  // resolve(kind, cfg, where) -> the plugin's defaults with the user's keys on top ("type" kept), or ConfigError.
  // `where` names the config location, e.g. "components.encoder".
  // also_known: more names an unknown key's "did you mean" may suggest (an evaluator entry's host keys).
  nlohmann::json resolve(Kind kind, const nlohmann::json& cfg, const std::string& where,
                         const std::vector<std::string>& also_known = {}) const;

  Component<sdk::Masker> make_masker(const nlohmann::json& cfg, const sdk::BuildContext& ctx, const std::string& where) const;
  Component<sdk::Encoder> make_encoder(const nlohmann::json& cfg, const sdk::BuildContext& ctx, const std::string& where) const;
  Component<sdk::Predictor> make_predictor(const nlohmann::json& cfg, const sdk::BuildContext& ctx, const std::string& where) const;
  Component<sdk::Loss> make_loss(const nlohmann::json& cfg, const sdk::BuildContext& ctx, const std::string& where) const;
  Component<sdk::Evaluator> make_evaluator(const nlohmann::json& cfg, const sdk::BuildContext& ctx, const std::string& where) const;

 private:
  template <class T>
  struct Slot {
    EntryInfo info;
    std::function<std::shared_ptr<T>(const nlohmann::json&, const sdk::BuildContext&)> make;
  };
  template <class T>
  using Table = std::map<std::string, Slot<T>>;

  template <class T>
  void add(Kind kind, Table<T>& committed, Table<T>& pending, sdk::ComponentEntry<T> entry);
  template <class T>
  Component<T> make(Kind kind, const Table<T>& table, const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                    const std::string& where) const;
  const EntryInfo* find_any(Kind kind, const std::string& type, bool include_pending) const;
  // is_resolved(kind, cfg): cfg has exactly the plugin's default keys (plus "type"), each of the default's JSON type (any
  // number for a number): what resolve() returns, so make() need not resolve it again.
  bool is_resolved(Kind kind, const nlohmann::json& cfg) const;

  Table<sdk::Masker> maskers_, p_maskers_;
  Table<sdk::Encoder> encoders_, p_encoders_;
  Table<sdk::Predictor> predictors_, p_predictors_;
  Table<sdk::Loss> losses_, p_losses_;
  Table<sdk::Evaluator> evaluators_, p_evaluators_;
  bool in_scope_ = false;
  Origin origin_;
  std::string scope_error_;
};

// validate_keys(defaults, user, where, plugin, top_level, also_known) throws ConfigError for a key absent from
// defaults or of another type; paths in messages are "where.key"; "type" is allowed at the top level. An unknown
// key's "did you mean" looks among the defaults and `also_known` (an evaluator entry's host keys, top level only).
void validate_keys(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where,
                   const std::string& plugin, bool top_level = true, const std::vector<std::string>& also_known = {});

// Keeps `lib` alive for as long as the returned pointer (or any copy) lives.
template <class T>
std::shared_ptr<T> pin_to_library(std::shared_ptr<T> obj, std::shared_ptr<void> lib) {
  if (!lib) return obj;
  struct Holder {
    std::shared_ptr<void> lib;  // declared first: destroyed last
    std::shared_ptr<T> obj;
  };
  T* raw = obj.get();
  auto holder = std::make_shared<Holder>(Holder{std::move(lib), std::move(obj)});
  return std::shared_ptr<T>(holder, raw);
}

}  // namespace ijepa::host
