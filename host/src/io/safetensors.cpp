#include "ijepa/host/io/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "ijepa/host/io/files.hpp"

namespace ijepa::host {
namespace {

constexpr std::uint64_t kMaxHeader = 100ull << 20;
constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 62;  // bound on numel and on numel * itemsize

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  std::size_t size;
};
const DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},  {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

const DtypeInfo* by_name(const std::string& n) {
  for (const auto& d : kDtypes) {
    if (n == d.name) return &d;
  }
  return nullptr;
}
const DtypeInfo* by_type(at::ScalarType t) {
  for (const auto& d : kDtypes) {
    if (t == d.type) return &d;
  }
  return nullptr;
}

}  // namespace

namespace {

struct Entry {
  std::string name;
  const DtypeInfo* dt;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

// Validates the whole file (header, every entry, the layout of the data buffer) before a single tensor is
// allocated; make(entry, pointer) then builds each tensor.
template <class Make>
TensorMap parse_view(const char* bytes, std::uint64_t size, const std::string& origin, StringMap* metadata, Make make) {
  auto fail = [&](const std::string& why) -> SafetensorsError { return SafetensorsError(origin + ": " + why); };
  if (size < 8) throw fail("truncated (no header length)");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  // Not a safetensors header: name a torch.save file (a zip archive, or a bare pickle: protocol 2+ starts 0x80).
  const bool pickle = std::memcmp(bytes, "PK\x03\x04", 4) == 0 || static_cast<unsigned char>(bytes[0]) == 0x80;
  if (pickle && (n > kMaxHeader || n > size - 8)) {
    throw fail("a PyTorch pickle / torch.save file, not safetensors (official checkpoints: "
               "python tools/convert_checkpoint.py FILE --out F.safetensors)");
  }
  if (n > kMaxHeader) {
    // A text file (an experiment's JSON, a log) given where a checkpoint belongs: its first bytes are printable.
    std::string start(bytes, 8);
    const bool text = std::all_of(start.begin(), start.end(), [](char c) {
      return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t';
    });
    std::replace_if(start.begin(), start.end(), [](char c) { return c < 0x20; }, ' ');
    throw fail("header length " + std::to_string(n) + " exceeds the 100 MiB cap" +
               (text ? " (not a safetensors file: it begins with the text \"" + start + "\")" : ""));
  }
  if (n > size - 8) throw fail("truncated header (" + std::to_string(n) + " bytes announced)");
  const std::string header_text(bytes + 8, n);
  if (header_text.empty() || header_text[0] != '{') throw fail("header is not a JSON object");
  nlohmann::json header;
  std::set<std::string> keys;
  std::string duplicate;
  try {
    // nlohmann keeps the last of duplicate keys silently; the format has none (a callback sees every key).
    header = nlohmann::json::parse(header_text, [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& v) {
      if (depth == 1 && ev == nlohmann::json::parse_event_t::key && !keys.insert(v.get<std::string>()).second &&
          duplicate.empty())
        duplicate = v.get<std::string>();
      // The format nests 3 levels (header, entry, shape/offsets); refuse deep nesting before it costs stack.
      if (depth > 8 && (ev == nlohmann::json::parse_event_t::object_start ||
                        ev == nlohmann::json::parse_event_t::array_start)) {
        throw std::runtime_error("nested deeper than 8 levels");
      }
      return true;
    });
  } catch (const std::exception& e) {
    throw fail(std::string("malformed header JSON: ") + e.what());
  }
  if (!duplicate.empty()) throw fail("duplicate key '" + duplicate + "' in the header");
  if (!header.is_object()) throw fail("header is not a JSON object");
  const std::uint64_t buffer_size = size - 8 - n;
  const char* buffer = bytes + 8 + n;

  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw fail("__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) throw fail("__metadata__." + m.key() + " is not a string");
        if (metadata != nullptr) (*metadata)[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const std::string& name = it.key();
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw fail("tensor '" + name + "': entry needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) throw fail("tensor '" + name + "': dtype is not a string");
    const DtypeInfo* dt = by_name(e["dtype"].get<std::string>());
    if (dt == nullptr) throw fail("tensor '" + name + "': unsupported dtype " + e["dtype"].dump());
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 1;
    if (!e["shape"].is_array()) throw fail("tensor '" + name + "': shape is not an array");
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) throw fail("tensor '" + name + "': bad shape " + e["shape"].dump());
      const auto v = d.get<std::uint64_t>();
      if (v > kMaxElements || (v != 0 && numel > kMaxElements / v)) throw fail("tensor '" + name + "': shape overflows");
      numel *= v;
      shape.push_back(static_cast<std::int64_t>(v));
    }
    if (numel > kMaxElements / dt->size) throw fail("tensor '" + name + "': shape overflows");
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail("tensor '" + name + "': bad data_offsets " + off.dump());
    const auto b = off[0].get<std::uint64_t>();
    const auto en = off[1].get<std::uint64_t>();
    if (b > en) throw fail("tensor '" + name + "': data_offsets out of range");
    if (en > buffer_size) {
      throw fail("truncated: the header places tensor '" + name + "' up to byte " + std::to_string(8 + n + en) +
                 ", but the file has " + std::to_string(size) + " bytes (cut short: an interrupted copy, download or "
                 "write?)");
    }
    if (en - b != numel * dt->size)
      throw fail("tensor '" + name + "': " + std::to_string(en - b) + " bytes for " + std::to_string(numel) + " x " +
                 dt->name);
    entries.push_back({name, dt, std::move(shape), b, en});
  }
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* x, const Entry* y) { return x->begin < y->begin; });
  std::uint64_t pos = 0;
  for (const Entry* e : by_offset) {
    if (e->begin < pos) throw fail("tensor '" + e->name + "' overlaps another tensor");
    if (e->begin > pos) throw fail("gap in the data buffer before tensor '" + e->name + "'");
    pos = e->end;
  }
  if (pos != buffer_size) throw fail("data buffer has " + std::to_string(buffer_size - pos) + " trailing bytes");
  TensorMap out;
  for (const Entry& e : entries) out.emplace(e.name, make(e, buffer + e.begin));
  return out;
}

at::Tensor copy_of(const Entry& e, const char* p) {
  at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dt->type));
  if (e.end > e.begin) std::memcpy(t.data_ptr(), p, e.end - e.begin);
  return t;
}

// A read-only file mapped privately (copy-on-write): tensors point into it and keep it mapped while they live.
struct Mapping {
  void* addr = nullptr;
  std::size_t size = 0;
  ~Mapping() {
    if (addr != nullptr && addr != MAP_FAILED) ::munmap(addr, size);
  }
};

}  // namespace

TensorMap parse_safetensors(const std::string& bytes, const std::string& origin, StringMap* metadata) {
  return parse_view(bytes.data(), bytes.size(), origin, metadata, copy_of);
}

TensorMap read_safetensors(const std::string& path, StringMap* metadata) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw SafetensorsError(path + ": cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw SafetensorsError(path + ": not a regular file");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw SafetensorsError(path + ": truncated (no header length)");
  }
  auto map = std::make_shared<Mapping>();
  map->size = static_cast<std::size_t>(size);
  map->addr = ::mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map->addr == MAP_FAILED) throw SafetensorsError(path + ": cannot map: " + std::strerror(errno));
  // The file's pages are the tensors' memory (about 1x the file, not the 3x of reading a copy): aligned tensors
  // point into the mapping, which lives until the last of them dies; a misaligned one (another writer's layout)
  // is copied.
  return parse_view(static_cast<const char*>(map->addr), size, path, metadata, [&](const Entry& e, const char* p) {
    if (e.end == e.begin || reinterpret_cast<std::uintptr_t>(p) % e.dt->size != 0) return copy_of(e, p);
    return at::from_blob(const_cast<char*>(p), e.shape, [map](void*) {}, at::TensorOptions().dtype(e.dt->type));
  });
}

std::string serialize_safetensors(const TensorMap& tensors, const StringMap& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t off = 0;
  std::vector<at::Tensor> ordered;
  for (const auto& [name, t0] : tensors) {
    if (!t0.defined()) throw SafetensorsError("tensor '" + name + "' is undefined");
    const DtypeInfo* dt = by_type(t0.scalar_type());
    if (dt == nullptr) throw SafetensorsError("tensor '" + name + "': unsupported dtype " + std::string(c10::toString(t0.scalar_type())));
    at::Tensor t = t0.detach().to(at::kCPU).contiguous();
    const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * dt->size;
    header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {off, off + nbytes}}};
    off += nbytes;
    ordered.push_back(t);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::string out;
  out.reserve(8 + h.size() + off);
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  // nlohmann's object iteration is sorted by key, like std::map: same order as `ordered`.
  for (const auto& t : ordered) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

void write_safetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace ijepa::host
