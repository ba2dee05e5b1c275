#include "ijepa/host/config/json_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>
#include <sstream>

#include "ijepa/host/util/nearest.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

// Thrown from the parser callback: a structure the config format never has (too deep, a key twice).
struct JsonShapeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The parser callback: refuses nesting deeper than kMaxJsonDepth (the copies and destructors of nlohmann::json
// recurse; 100,000 levels overflow the stack) and a key that appears twice in one object (nlohmann keeps the last
// silently), naming the dotted path of the key.
class ShapeCheck {
 public:
  bool operator()(int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start) && depth >= kMaxJsonDepth) {
      throw JsonShapeError("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    if (ev == E::object_start) frames_.push_back({{}, ""});
    if (ev == E::array_start) frames_.push_back({{}, "#"});
    if ((ev == E::object_end || ev == E::array_end) && !frames_.empty()) frames_.pop_back();
    if (ev == E::key && !frames_.empty()) {
      const std::string k = parsed.get<std::string>();
      if (!frames_.back().keys.insert(k).second) throw JsonShapeError("duplicate key '" + path(k) + "'");
      frames_.back().key = k;
    }
    return true;
  }

 private:
  std::string path(const std::string& k) const {
    std::string p;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) p += frames_[i].key + ".";
    return p + k;
  }
  struct Frame {
    std::set<std::string> keys;
    std::string key;
  };
  std::vector<Frame> frames_;
};

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text, ShapeCheck());
  } catch (const JsonShapeError& e) {
    throw ConfigFileError(origin + ": malformed JSON: " + e.what());
  } catch (const nlohmann::json::parse_error& e) {
    std::size_t pos = e.byte == 0 ? 0 : e.byte - 1;
    if (pos > text.size()) pos = text.size();
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string msg = e.what();
    // nlohmann: "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ... - reason"
    auto p = msg.find("syntax error");
    if (p != std::string::npos) msg = msg.substr(p);
    throw ConfigFileError(origin + ":" + std::to_string(line) + ":" + std::to_string(col) + ": malformed JSON: " + msg);
  } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range.406: a number such as 1e999 overflows
    std::string msg = e.what();
    if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    throw ConfigFileError(origin + ": malformed JSON: " + msg);
  }
}

nlohmann::json load_json_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ConfigFileError(path.string() + ": file not found");
  if (fs::is_directory(path, ec)) throw ConfigFileError(path.string() + ": is a directory, expected a JSON file");
  // A device (/dev/zero) would be read without end: a regular file or a pipe (`<(jq ...)`), read up to a bound.
  const fs::file_status st = fs::status(path, ec);
  if (!fs::is_regular_file(st) && !fs::is_fifo(st)) {
    throw ConfigFileError(path.string() + ": not a regular file (a device or a socket), expected a JSON file");
  }
  constexpr std::size_t kMaxJsonBytes = std::size_t{256} << 20;
  const auto too_big = [&] {
    return ConfigFileError(path.string() + ": larger than " + std::to_string(kMaxJsonBytes >> 20) +
                           " MiB; not a JSON file this workbench reads");
  };
  if (fs::is_regular_file(st) && fs::file_size(path, ec) > kMaxJsonBytes) throw too_big();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigFileError(path.string() + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxJsonBytes) throw too_big();
  }
  return parse_json_text(text, path.string());
}

nlohmann::json::json_pointer dotted_to_pointer(const std::string& dotted) {
  std::string ptr;
  std::stringstream ss(dotted);
  std::string seg;
  // getline drops a trailing empty segment: "train.lr." would silently be "train.lr"
  if (dotted.empty() || dotted.back() == '.') throw std::invalid_argument("empty segment in path '" + dotted + "'");
  while (std::getline(ss, seg, '.')) {
    if (seg.empty()) throw std::invalid_argument("empty segment in path '" + dotted + "'");
    std::string esc;
    for (char c : seg) {
      if (c == '~') esc += "~0";
      else if (c == '/') esc += "~1";
      else esc += c;
    }
    ptr += "/" + esc;
  }
  return nlohmann::json::json_pointer(ptr);
}

namespace {

// The dotted key a mistyped one most likely meant: its first level missing from cfg replaced by the nearest key there
// (the levels below kept as written), or "".
std::string nearest_key(const nlohmann::json& cfg, const std::string& dotted) {
  const nlohmann::json* at = &cfg;
  std::size_t from = 0;
  while (from <= dotted.size()) {
    const std::size_t dot = std::min(dotted.find('.', from), dotted.size());
    const std::string k = dotted.substr(from, dot - from);
    if (!at->is_object()) return "";
    if (!at->contains(k)) {
      std::vector<std::string> known;
      for (auto it = at->begin(); it != at->end(); ++it) known.push_back(it.key());
      const std::string guess = util::nearest(k, known);
      return guess.empty() ? "" : dotted.substr(0, from) + guess + dotted.substr(dot);
    }
    at = &at->at(k);
    from = dot + 1;
  }
  return "";
}

}  // namespace

void set_path(nlohmann::json& cfg, const std::string& dotted, const nlohmann::json& value, bool allow_create,
              const std::string& origin) {
  nlohmann::json::json_pointer ptr;
  try {
    ptr = dotted_to_pointer(dotted);
  } catch (const std::exception& e) {
    throw ConfigFileError(origin + ": " + e.what());
  }
  if (!cfg.contains(ptr)) {
    if (!allow_create) {
      // A typo is likelier than a new key: the key meant, if one is near (at the first level that does not exist:
      // 'trian.lr' -> 'train.lr'), else the keys that are there, then how to create one.
      if (const std::string guess = nearest_key(cfg, dotted); !guess.empty()) {
        throw ConfigFileError(origin + ": key '" + dotted + "' does not exist in the config (did you mean '" + guess +
                              "'? a key it does not have yet: '+" + dotted + "=...')");
      }
      std::string there;
      if (const auto parent = ptr.parent_pointer(); cfg.contains(parent) && cfg[parent].is_object()) {
        std::size_t n = 0;
        for (auto it = cfg[parent].begin(); it != cfg[parent].end() && n < 16; ++it, ++n) {
          there += (n ? ", " : "") + it.key();
        }
        if (cfg[parent].size() > n) there += ", ...";
        const std::size_t dot = dotted.rfind('.');
        const std::string where = dot == std::string::npos ? "the config" : "'" + dotted.substr(0, dot) + "'";
        there = "; " + where + " has: " + there;
      }
      throw ConfigFileError(origin + ": key '" + dotted + "' does not exist in the config" + there +
                            " (a key it does not have yet: '+" + dotted + "=...')");
    }
  }
  try {
    cfg[ptr] = value;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigFileError(origin + ": cannot set '" + dotted + "': " + e.what());
  }
}

nlohmann::json assignment_value(const std::string& raw) {
  nlohmann::json value = nlohmann::json::parse(raw, nullptr, false);
  return value.is_discarded() ? nlohmann::json(raw) : value;  // bare words are strings: --set masker.variant=fixed
}

void apply_override(nlohmann::json& cfg, const std::string& assignment, const std::string& origin) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigFileError(origin + ": expected key=value, got '" + assignment + "'");
  }
  std::string key = assignment.substr(0, eq);
  const std::string raw = assignment.substr(eq + 1);
  bool create = false;
  if (key[0] == '+') {
    create = true;
    key = key.substr(1);
  }
  set_path(cfg, key, assignment_value(raw), create, origin + " (" + assignment + ")");
}

}  // namespace ijepa::host
