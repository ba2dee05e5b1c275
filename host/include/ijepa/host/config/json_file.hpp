#pragma once
// Reading JSON config files with errors that name the file, line and column.
#include <filesystem>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/host/io/files.hpp"  // write_file_atomic, for the config writers

namespace ijepa::host {

class ConfigFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Deepest nesting parse_json_text accepts (experiment files nest a few levels; deeper input is refused, not parsed).
constexpr int kMaxJsonDepth = 256;

// load_json_file(path) -> parsed JSON; ConfigFileError "FILE:LINE:COL: message" on malformed input, and
// "FILE: malformed JSON: ..." for nesting deeper than kMaxJsonDepth, a key twice in one object, a number out of range.
nlohmann::json load_json_file(const std::filesystem::path& path);
// parse_json_text(text, origin) -> parsed JSON; errors name origin, line and column.
nlohmann::json parse_json_text(const std::string& text, const std::string& origin);

// Dotted path "a.b.0.c" -> JSON pointer "/a/b/0/c".
nlohmann::json::json_pointer dotted_to_pointer(const std::string& dotted);

// assignment_value(raw) -> the value of a "key=value" assignment: `raw` parsed as JSON, else the bare word as a string.
nlohmann::json assignment_value(const std::string& raw);
// apply_override(cfg, "a.b=value", origin): value is parsed as JSON, or taken as a string if it is not JSON.
// Creating a key the config does not have is an error unless the path starts with '+'.
void apply_override(nlohmann::json& cfg, const std::string& assignment, const std::string& origin);
// set_path(cfg, dotted, value, allow_create, origin): the same with a parsed value.
void set_path(nlohmann::json& cfg, const std::string& dotted, const nlohmann::json& value, bool allow_create,
              const std::string& origin);


}  // namespace ijepa::host
