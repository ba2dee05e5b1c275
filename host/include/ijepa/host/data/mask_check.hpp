#pragma once
// The host's check of what a masker returns (sdk/types.hpp MaskSet), so a faulty masker is named as the culprit
// rather than the encoder or predictor that would trip over its masks later.
#include <cstdint>
#include <string>

#include "ijepa/sdk/types.hpp"

namespace ijepa::host {

// mask_set_problem(ms, batch, num_patches) -> "" when the masks keep the contract: at least one context and one
// target mask, each an int64 [batch, K] CPU tensor with K >= 1 and every id in [0, num_patches); else what is wrong,
// in words ("target mask 2: patch id 69 outside the 64 patches of the grid"). Reads the ids (B x K integers).
std::string mask_set_problem(const sdk::MaskSet& ms, std::int64_t batch, std::int64_t num_patches);

}  // namespace ijepa::host
