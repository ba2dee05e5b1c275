#pragma once
// Small helpers for reading a plugin's (already merged and key-checked) config with clear errors.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace ijepa::sdk {

// get<T>(cfg, key) -> value; throws std::invalid_argument("key 'k': wrong type (<type>: <value>)") on a mismatch.
template <class T>
T get(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) throw std::invalid_argument(std::string("missing key '") + key + "'");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument(std::string("key '") + key + "': wrong type (" + it->type_name() + ": " +
                                it->dump() + ")");
  }
}

// get_range(cfg, key) -> (lo, hi) from a two-number array with lo <= hi.
inline std::pair<double, double> get_range(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_number() || !(*it)[1].is_number())
    throw std::invalid_argument(std::string("key '") + key + "': expected [lo, hi], got " +
                                (it == cfg.end() ? std::string("nothing") : it->dump()));
  double lo = (*it)[0].get<double>();
  double hi = (*it)[1].get<double>();
  if (lo > hi) throw std::invalid_argument(std::string("key '") + key + "': lo > hi in " + it->dump());
  return {lo, hi};
}

// get_int_at_least(cfg, key, lo) -> an integer value >= lo (SDK 1.1). A float such as 1.5 is refused, not
// truncated: "key 'k': expected an integer, got 1.5" / "key 'k': must be >= 1, got 0".
inline std::int64_t get_int_at_least(const nlohmann::json& cfg, const char* key, std::int64_t lo) {
  auto it = cfg.find(key);
  if (it != cfg.end() && !it->is_number_integer())
    throw std::invalid_argument(std::string("key '") + key + "': expected an integer, got " + it->dump());
  const auto v = get<std::int64_t>(cfg, key);
  if (v < lo)
    throw std::invalid_argument(std::string("key '") + key + "': must be >= " + std::to_string(lo) + ", got " +
                                std::to_string(v));
  return v;
}

// read_optional(cfg, key, out): out = cfg[key] when the key is present and not null, else out is left as it is
// (SDK 1.3); a value of the wrong type is get()'s one-line error.
template <class T>
void read_optional(const nlohmann::json& cfg, const char* key, T& out) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return;
  out = get<T>(cfg, key);
}

}  // namespace ijepa::sdk
