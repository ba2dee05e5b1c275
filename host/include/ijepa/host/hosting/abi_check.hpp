#pragma once
// Field-by-field comparison of a plugin's ABI fingerprint with the host's.
#include <optional>
#include <string>

#include "ijepa/sdk/abi.hpp"

namespace ijepa::host {

// The host's own fingerprint (plugin id "org.ijepa.host").
const IjepaAbiInfo& host_abi_info();

// explain_abi_mismatch(plugin, host) -> one line naming the first mismatching field, or nullopt if compatible.
// `size` bytes of `plugin` are readable; fields beyond it count as missing.
std::optional<std::string> explain_abi_mismatch(const IjepaAbiInfo& plugin, const IjepaAbiInfo& host);

// Human-readable "torch 2.11.0, SDK 1.0, ..." summary of a fingerprint.
std::string describe_abi(const IjepaAbiInfo& info);

}  // namespace ijepa::host
