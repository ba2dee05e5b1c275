#pragma once
// Masker: samples context and target patch masks for a batch.
#include <cstdint>
#include <string_view>

#include "ijepa/sdk/abi.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::sdk {

// [thread-safe for concurrent sample() calls] Lives as long as the host holds its shared_ptr.
class IJEPA_SDK_VISIBLE Masker {
 public:
  virtual ~Masker() = default;
  // sample(B, batch_number) -> masks for B images; deterministic in (run seed, batch_number), whatever thread calls.
  virtual MaskSet sample(std::int64_t batch_size, std::uint64_t batch_number) = 0;
  // Optional features by id (see capabilities.hpp); null when unsupported. Pointer valid while *this lives.
  virtual const void* capability(std::string_view id) const noexcept = 0;
};

}  // namespace ijepa::sdk
