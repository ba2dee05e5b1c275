#include "ijepa/host/build_config.hpp"
#include "ijepa/host/hosting/abi_check.hpp"

#include <cstddef>
#include <sstream>

namespace ijepa::host {
namespace {

std::string compiler_name(std::uint32_t c) {
  std::ostringstream os;
  const std::uint32_t family = c / 1000000u;
  os << (family == 1 ? "gcc " : family == 2 ? "clang " : "compiler? ") << (c / 1000u) % 1000u << '.' << c % 1000u;
  return os.str();
}

std::string json_name(std::uint32_t v) {
  std::ostringstream os;
  os << v / 10000u << '.' << (v / 100u) % 100u << '.' << v % 100u;
  return os.str();
}

std::string bounded(const char* s, std::size_t n) {
  std::size_t len = 0;
  while (len < n && s[len] != '\0') ++len;
  return std::string(s, len);
}

}  // namespace

const IjepaAbiInfo& host_abi_info() {
  static const IjepaAbiInfo info = sdk::make_abi_info("org.ijepa.host", IJEPA_WORKBENCH_VERSION);
  return info;
}

std::optional<std::string> explain_abi_mismatch(const IjepaAbiInfo& p, const IjepaAbiInfo& h) {
  std::ostringstream os;
  if (p.size < offsetof(IjepaAbiInfo, plugin_id) + sizeof(p.plugin_id) + sizeof(p.plugin_version)) {
    os << "ABI fingerprint too small (size " << p.size << " < " << sizeof(IjepaAbiInfo) << ")";
    return os.str();
  }
  if (p.sdk_major != h.sdk_major) {
    os << "SDK major version " << p.sdk_major << " != host SDK major " << h.sdk_major;
    return os.str();
  }
  if (p.sdk_minor > h.sdk_minor) {
    os << "SDK minor version " << p.sdk_major << '.' << p.sdk_minor << " is newer than the host's " << h.sdk_major
       << '.' << h.sdk_minor;
    return os.str();
  }
  if (p.torch_major != h.torch_major || p.torch_minor != h.torch_minor || p.torch_patch != h.torch_patch) {
    os << "torch version " << p.torch_major << '.' << p.torch_minor << '.' << p.torch_patch << " != host torch "
       << h.torch_major << '.' << h.torch_minor << '.' << h.torch_patch;
    return os.str();
  }
  if (p.cxx11_abi != h.cxx11_abi) {
    os << "_GLIBCXX_USE_CXX11_ABI=" << int(p.cxx11_abi) << " != host's " << int(h.cxx11_abi);
    return os.str();
  }
  if (p.glibcxx_debug != h.glibcxx_debug) {
    os << "debug-container flag (_GLIBCXX_DEBUG/_GLIBCXX_ASSERTIONS) " << int(p.glibcxx_debug) << " != host's "
       << int(h.glibcxx_debug);
    return os.str();
  }
  if (p.compiler / 1000u != h.compiler / 1000u) {  // family and major must match; minor differences are fine
    os << "compiler " << compiler_name(p.compiler) << " != host compiler " << compiler_name(h.compiler);
    return os.str();
  }
  if (p.stdlib_release != h.stdlib_release) {
    os << "libstdc++ release " << p.stdlib_release << " != host's " << h.stdlib_release;
    return os.str();
  }
  if (p.json_version != h.json_version || p.json_diagnostics != h.json_diagnostics) {
    os << "nlohmann_json " << json_name(p.json_version) << (p.json_diagnostics ? " (diagnostics)" : "")
       << " != host's " << json_name(h.json_version) << (h.json_diagnostics ? " (diagnostics)" : "");
    return os.str();
  }
  if (p.plugin_id[0] == '\0' || p.plugin_id[sizeof(p.plugin_id) - 1] != '\0') {
    return std::string("plugin id is empty or not NUL-terminated");
  }
  if (p.plugin_version[sizeof(p.plugin_version) - 1] != '\0') {
    return std::string("plugin version is not NUL-terminated");
  }
  return std::nullopt;
}

std::string describe_abi(const IjepaAbiInfo& a) {
  std::ostringstream os;
  os << bounded(a.plugin_id, sizeof(a.plugin_id)) << ' ' << bounded(a.plugin_version, sizeof(a.plugin_version))
     << " (SDK " << a.sdk_major << '.' << a.sdk_minor << ", torch " << a.torch_major << '.' << a.torch_minor << '.'
     << a.torch_patch << ", cxx11_abi " << int(a.cxx11_abi) << ", " << compiler_name(a.compiler) << ", libstdc++ "
     << a.stdlib_release << ", nlohmann_json " << json_name(a.json_version) << ")";
  return os.str();
}

}  // namespace ijepa::host
