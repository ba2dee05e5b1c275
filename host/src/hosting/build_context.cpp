#include "ijepa/host/hosting/build_context.hpp"

#include <stdexcept>
#include <string>

#include "ijepa/host/log/logging.hpp"

namespace ijepa::host {

sdk::BuildContext build_context(std::int64_t image_size, std::int64_t patch_size, std::uint64_t seed) {
  if (image_size < 1 || patch_size < 1) throw std::invalid_argument("image size and patch size must be positive");
  if (image_size % patch_size != 0) {
    throw std::invalid_argument("patch size " + std::to_string(patch_size) + " does not divide image size " +
                                std::to_string(image_size));
  }
  const std::int64_t side = image_size / patch_size;
  if (side > kMaxPatches / side) {
    throw std::invalid_argument("image size " + std::to_string(image_size) + " / patch size " +
                                std::to_string(patch_size) + " is a " + std::to_string(side) + "x" +
                                std::to_string(side) + " patch grid, above the " + std::to_string(kMaxPatches) +
                                " patches this workbench handles");
  }
  sdk::BuildContext ctx;
  ctx.host = logging::host_services();
  ctx.seed = seed;
  ctx.image_size = image_size;
  ctx.patch_size = patch_size;
  ctx.in_chans = 3;
  ctx.grid = sdk::PatchGrid{image_size / patch_size, image_size / patch_size};
  return ctx;
}

sdk::BuildContext with_encoder(sdk::BuildContext ctx, const sdk::Encoder& encoder) {
  ctx.encoder_dim = encoder.embed_dim();
  ctx.encoder_heads = encoder.num_heads();
  ctx.encoder_depth = encoder.depth();
  return ctx;
}

}  // namespace ijepa::host
