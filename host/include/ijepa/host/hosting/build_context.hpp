#pragma once
// The one place an sdk::BuildContext is made: what the host tells a plugin when it builds a component.
#include <cstdint>

#include "ijepa/sdk/encoder.hpp"
#include "ijepa/sdk/types.hpp"

namespace ijepa::host {

// build_context(image_size, patch_size, seed) -> the host's logging services, the seed, the image and patch sizes
// and the square patch grid, 3 input channels. std::invalid_argument when a size is not positive, the patch size
// does not divide the image size, or the grid has more than kMaxPatches patches (callers prefix the config key).
sdk::BuildContext build_context(std::int64_t image_size, std::int64_t patch_size, std::uint64_t seed);

// The most patches a grid may have: 1024 x 1024 (16,384 px in 16 px patches), far beyond what attention over the
// tokens of one image can train; a size typed with digits too many stops here instead of in the OOM killer.
inline constexpr std::int64_t kMaxPatches = std::int64_t{1} << 20;

// with_encoder(ctx, encoder) -> ctx plus the encoder's width, heads and depth (what predictors and evaluators read).
sdk::BuildContext with_encoder(sdk::BuildContext ctx, const sdk::Encoder& encoder);

}  // namespace ijepa::host
