#include "ijepa/host/hosting/registry.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "ijepa/host/util/nearest.hpp"

namespace ijepa::host {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::masker: return "masker";
    case Kind::encoder: return "encoder";
    case Kind::predictor: return "predictor";
    case Kind::loss: return "loss";
    case Kind::evaluator: return "evaluator";
  }
  return "?";
}

Kind parse_kind(const std::string& s) {
  for (Kind k : {Kind::masker, Kind::encoder, Kind::predictor, Kind::loss, Kind::evaluator}) {
    if (s == kind_name(k)) return k;
  }
  throw std::invalid_argument("unknown component kind '" + s +
                              "' (expected masker, encoder, predictor, loss or evaluator)");
}

namespace {

// Type category for config checks: numbers are interchangeable except that an integer default needs an integer.
bool same_category(const nlohmann::json& def, const nlohmann::json& val) {
  if (def.is_null()) return true;
  if (def.is_number_integer()) return val.is_number_integer();
  if (def.is_number()) return val.is_number();
  if (def.is_boolean()) return val.is_boolean();
  if (def.is_string()) return val.is_string();
  if (def.is_array()) return val.is_array();
  if (def.is_object()) return val.is_object();
  return false;
}

}  // namespace

void validate_keys(const nlohmann::json& defaults, const nlohmann::json& user, const std::string& where,
                   const std::string& plugin, bool top_level, const std::vector<std::string>& also_known) {
  if (!user.is_object()) {
    throw ConfigError(where + ": expected a JSON object, got " + std::string(user.type_name()));
  }
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string& key = it.key();
    if (top_level && key == "type") continue;
    const std::string path = where.empty() ? key : where + "." + key;
    auto d = defaults.find(key);
    if (d == defaults.end()) {
      std::vector<std::string> known;
      for (auto k = defaults.begin(); k != defaults.end(); ++k) known.push_back(k.key());
      known.insert(known.end(), also_known.begin(), also_known.end());
      const std::string guess = util::nearest(key, known);
      throw ConfigError("unknown key '" + path + "' for " + plugin +
                        (guess.empty() ? "" : " (did you mean '" + (where.empty() ? "" : where + ".") + guess + "'?)"));
    }
    if (key == "extra" && d->is_object()) continue;  // the documented escape: free-form keys
    if (it->is_null()) continue;                     // merge-patch: null restores the default
    if (!same_category(*d, *it)) {
      throw ConfigError("key '" + path + "' of " + plugin + ": expected " + std::string(d->type_name()) +
                        (d->is_number_integer() ? " (integer)" : "") + ", got " + it->dump());
    }
    // Integer keys are read as int64 (the seed alone as uint64): a larger value would wrap around to a negative one.
    if (d->is_number_integer() && key != "seed" && it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw ConfigError("key '" + path + "' of " + plugin + ": " + it->dump() + " is out of range (at most " +
                        std::to_string(std::numeric_limits<std::int64_t>::max()) + ")");
    }
    if (d->is_object() && !d->empty()) validate_keys(*d, *it, path, plugin, false);
  }
}

void Registry::begin(Origin origin) {
  in_scope_ = true;
  origin_ = std::move(origin);
  scope_error_.clear();
}

void Registry::commit() {
  auto move_all = [](auto& from, auto& to) {
    for (auto& kv : from) to.emplace(kv.first, std::move(kv.second));
    from.clear();
  };
  move_all(p_maskers_, maskers_);
  move_all(p_encoders_, encoders_);
  move_all(p_predictors_, predictors_);
  move_all(p_losses_, losses_);
  move_all(p_evaluators_, evaluators_);
  in_scope_ = false;
  origin_ = Origin{};
}

void Registry::abort() {
  p_maskers_.clear();
  p_encoders_.clear();
  p_predictors_.clear();
  p_losses_.clear();
  p_evaluators_.clear();
  in_scope_ = false;
  origin_ = Origin{};
}

template <class T>
void Registry::add(Kind kind, Table<T>& committed, Table<T>& pending, sdk::ComponentEntry<T> entry) {
  auto fail = [&](const std::string& why) {
    scope_error_ = why;
    throw std::runtime_error(why);
  };
  if (!in_scope_) fail("registration outside ijepa_plugin_register");
  const std::string key = std::string(kind_name(kind)) + "/" + entry.type;
  if (entry.type.empty()) fail(std::string("empty type name for a ") + kind_name(kind));
  // A type is written in configs, file names and tables: letters, digits, '_', '-', '.' (the guide asks snake case).
  for (const char ch : entry.type) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.') {
      fail(std::string(kind_name(kind)) + " type " + nlohmann::json(entry.type).dump() + ": use letters, digits, "
           "'_', '-' or '.' only");
    }
  }
  if (!entry.make) fail(key + ": no factory");
  if (entry.defaults.is_null()) entry.defaults = nlohmann::json::object();
  if (!entry.defaults.is_object()) fail(key + ": defaults must be a JSON object");
  if (entry.defaults.contains("type")) fail(key + ": defaults must not contain 'type'");
  for (auto it = entry.defaults.begin(); it != entry.defaults.end(); ++it) {
    if (!entry.doc.is_object() || !entry.doc.contains(it.key()) || !entry.doc[it.key()].is_string())
      fail(key + ": key '" + it.key() + "' has no documentation");
  }
  if (entry.doc.is_object()) {  // a documented key without a default is refused in every config: say so here
    for (auto it = entry.doc.begin(); it != entry.doc.end(); ++it) {
      if (!entry.defaults.contains(it.key())) {
        fail(key + ": doc names key '" + it.key() + "', which has no default (every config key needs one)");
      }
    }
  }
  if (auto c = committed.find(entry.type); c != committed.end()) {
    fail("duplicate " + key + ": already registered by " + c->second.info.origin.plugin_id + " (" +
         c->second.info.origin.path + ")");
  }
  if (pending.count(entry.type) != 0) fail("duplicate " + key + " within " + origin_.plugin_id);
  Slot<T> slot;
  slot.info = EntryInfo{kind, entry.type, entry.summary, entry.defaults, entry.doc, origin_};
  slot.make = std::move(entry.make);
  pending.emplace(entry.type, std::move(slot));
}

void Registry::add_masker(sdk::MaskerEntry e) { add(Kind::masker, maskers_, p_maskers_, std::move(e)); }
void Registry::add_encoder(sdk::EncoderEntry e) { add(Kind::encoder, encoders_, p_encoders_, std::move(e)); }
void Registry::add_predictor(sdk::PredictorEntry e) { add(Kind::predictor, predictors_, p_predictors_, std::move(e)); }
void Registry::add_loss(sdk::LossEntry e) { add(Kind::loss, losses_, p_losses_, std::move(e)); }
void Registry::add_evaluator(sdk::EvaluatorEntry e) { add(Kind::evaluator, evaluators_, p_evaluators_, std::move(e)); }

std::vector<EntryInfo> Registry::list() const {
  std::vector<EntryInfo> out;
  auto collect = [&out](const auto& table) {
    for (const auto& kv : table) out.push_back(kv.second.info);
  };
  collect(maskers_);
  collect(encoders_);
  collect(predictors_);
  collect(losses_);
  collect(evaluators_);
  return out;
}

const EntryInfo* Registry::find_any(Kind kind, const std::string& type, bool include_pending) const {
  auto look = [&](const auto& committed, const auto& pending) -> const EntryInfo* {
    if (auto it = committed.find(type); it != committed.end()) return &it->second.info;
    if (include_pending) {
      if (auto it = pending.find(type); it != pending.end()) return &it->second.info;
    }
    return nullptr;
  };
  switch (kind) {
    case Kind::masker: return look(maskers_, p_maskers_);
    case Kind::encoder: return look(encoders_, p_encoders_);
    case Kind::predictor: return look(predictors_, p_predictors_);
    case Kind::loss: return look(losses_, p_losses_);
    case Kind::evaluator: return look(evaluators_, p_evaluators_);
  }
  return nullptr;
}

const EntryInfo* Registry::find(Kind kind, const std::string& type) const { return find_any(kind, type, false); }

std::vector<std::string> Registry::types(Kind kind) const {
  std::vector<std::string> out;
  for (const auto& e : list()) {
    if (e.kind == kind) out.push_back(e.type);
  }
  return out;
}

nlohmann::json Registry::resolve(Kind kind, const nlohmann::json& cfg, const std::string& where,
                                 const std::vector<std::string>& also_known) const {
  if (!cfg.is_object()) throw ConfigError(where + ": expected an object with a \"type\" key, got " + cfg.dump());
  auto t = cfg.find("type");
  if (t == cfg.end() || !t->is_string()) throw ConfigError(where + ".type: missing (a string naming the " +
                                                           std::string(kind_name(kind)) + " plugin type)");
  const std::string type = t->get<std::string>();
  const EntryInfo* info = find(kind, type);
  if (info == nullptr) {
    std::string known;
    for (const auto& s : types(kind)) known += (known.empty() ? "" : ", ") + s;
    throw ConfigError(where + ".type: no " + std::string(kind_name(kind)) + " plugin '" + type +
                      "' is loaded (available: " + (known.empty() ? "none" : known) +
                      "; a plugin of your own: --plugin-dir DIR, and `ijepa plugins --plugin-dir DIR` says why one "
                      "does not load)");
  }
  const std::string plugin = std::string(kind_name(kind)) + "/" + type + " (plugin " + info->origin.plugin_id + ")";
  validate_keys(info->defaults, cfg, where, plugin, true, also_known);
  nlohmann::json merged = info->defaults;
  nlohmann::json patch = cfg;
  patch.erase("type");
  merged.merge_patch(patch);
  // merge_patch deletes keys patched with null: restore their defaults.
  for (auto it = info->defaults.begin(); it != info->defaults.end(); ++it) {
    if (!merged.contains(it.key())) merged[it.key()] = it.value();
  }
  merged["type"] = type;
  return merged;
}

bool Registry::is_resolved(Kind kind, const nlohmann::json& cfg) const {
  if (!cfg.is_object()) return false;
  const auto t = cfg.find("type");
  if (t == cfg.end() || !t->is_string()) return false;
  const EntryInfo* info = find(kind, t->get<std::string>());
  if (info == nullptr || cfg.size() != info->defaults.size() + 1) return false;
  for (auto it = info->defaults.begin(); it != info->defaults.end(); ++it) {
    const auto c = cfg.find(it.key());
    const bool same = c != cfg.end() && (c->type() == it->type() || (c->is_number() && it->is_number()));
    if (!same) return false;
  }
  return true;
}

template <class T>
Component<T> Registry::make(Kind kind, const Table<T>& table, const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                            const std::string& where) const {
  // A config resolve_experiment already resolved (every default key present, nothing else) is used as it is: each
  // component config is resolved once. Partial configs (the CLI's, the tests') are resolved here.
  const nlohmann::json merged = is_resolved(kind, cfg) ? cfg : resolve(kind, cfg, where);
  const std::string type = merged["type"].get<std::string>();
  const Slot<T>& slot = table.at(type);
  nlohmann::json for_plugin = merged;
  for_plugin.erase("type");
  Component<T> c;
  c.plugin_id = slot.info.origin.plugin_id;
  c.type = std::string(kind_name(kind)) + "/" + type;
  std::shared_ptr<T> obj;
  sdk::BuildContext plugin_ctx = ctx;
  if (slot.info.origin.services != nullptr) plugin_ctx.host = slot.info.origin.services;  // log lines carry the id
  try {
    obj = slot.make(for_plugin, plugin_ctx);
  } catch (const std::bad_alloc&) {
    throw ConfigError(where + ": " + c.type + " (plugin " + c.plugin_id + ") ran out of memory while being built "
                      "(std::bad_alloc): its config asks for more than this process may allocate");
  } catch (const c10::Error& e) {
    // One line: torch's errors (an allocation that failed, say) carry their C++ frames on the lines below.
    std::string what = e.what_without_backtrace();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    throw ConfigError(where + ": " + c.type + " (plugin " + c.plugin_id + ") rejected its config: " + what);
  } catch (const std::exception& e) {  // the plugin's own words, each line kept, on one line
    std::string what = joined_lines(e.what());
    // sdk::config's "missing key 'K'" for a K the plugin never registered: the fix is in the plugin (which the
    // message used to leave to a guess, blaming whatever set the type), not in the experiment.
    // Only sdk::config's own words, whole: a "missing key" of a nested object the user overrode is the user's.
    const std::string missing = "missing key '";
    if (what.rfind(missing, 0) == 0 && what.size() > missing.size() + 1 && what.back() == '\'' &&
        what.find('\'', missing.size()) == what.size() - 1) {
      const std::string key = what.substr(missing.size(), what.size() - missing.size() - 1);
      if (!merged.contains(key)) {
        throw ConfigError(where + ": " + c.type + " (plugin " + c.plugin_id + ") reads config key '" + key +
                          "', which is not among the keys it registered: add it to its ComponentEntry's defaults "
                          "(and doc)");
      }
    }
    throw ConfigError(where + ": " + c.type + " (plugin " + c.plugin_id + ") rejected its config: " + what);
  } catch (...) {
    throw ConfigError(where + ": " + c.type + " (plugin " + c.plugin_id + ") failed with an unknown exception");
  }
  if (!obj) throw PluginError(c.plugin_id, c.type + ": factory returned null");
  c.ptr = pin_to_library(std::move(obj), slot.info.origin.library);
  return c;
}

Component<sdk::Masker> Registry::make_masker(const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                                             const std::string& where) const {
  return make(Kind::masker, maskers_, cfg, ctx, where);
}
Component<sdk::Encoder> Registry::make_encoder(const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                                               const std::string& where) const {
  return make(Kind::encoder, encoders_, cfg, ctx, where);
}
Component<sdk::Predictor> Registry::make_predictor(const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                                                   const std::string& where) const {
  return make(Kind::predictor, predictors_, cfg, ctx, where);
}
Component<sdk::Loss> Registry::make_loss(const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                                         const std::string& where) const {
  return make(Kind::loss, losses_, cfg, ctx, where);
}
Component<sdk::Evaluator> Registry::make_evaluator(const nlohmann::json& cfg, const sdk::BuildContext& ctx,
                                                   const std::string& where) const {
  return make(Kind::evaluator, evaluators_, cfg, ctx, where);
}

}  // namespace ijepa::host
