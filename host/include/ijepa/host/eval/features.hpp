#pragma once
// Frozen-feature extraction: a dataset through an encoder (no grad), pooled or as tokens, for probes and `ijepa embed`.
#include <cstdint>
#include <functional>
#include <string>

#include <ATen/core/Tensor.h>

#include "ijepa/host/config/evaluator_spec.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/hosting/registry.hpp"
#include "ijepa/sdk/encoder.hpp"

namespace ijepa::host {

struct ExtractOptions {
  FeatureKind kind = FeatureKind::last;
  std::int64_t image_size = 32;
  std::int64_t batch_size = 256;
  std::int64_t limit = 0;          // > 0: a seeded random subset of this many images (sorted by index); 0: all
  std::uint64_t seed = 0;          // for the subset
  bool resize_crop = true;         // true: Resize(round(S*256/224)) + CenterCrop(S); false: images must be S x S
  bool require_labels = false;     // fail when an image has no label (label < 0)
  // Called after each batch with the images done (read or skipped) and the images selected, on the calling thread.
  std::function<void(std::int64_t done, std::int64_t total)> on_batch;
};

struct Features {
  at::Tensor features;  // float32, CPU
  at::Tensor labels;    // int64 [N] (-1 where the source has no label)
  at::Tensor indices;   // int64 [N] dataset indices
  std::int64_t skipped = 0;  // images that could not be read or decoded, left out (as training replaces them)
};

// subset_indices(n, limit, seed) -> sorted indices of a seeded subset of [0, n) (all of them when limit <= 0 or >= n).
std::vector<std::int64_t> subset_indices(std::int64_t n, std::int64_t limit, std::uint64_t seed);

// extract_features(encoder, data, opts, device) -> features of the selected images, in index order. Images are
// decoded and transformed on at::get_num_threads() threads; the encoder runs under NoGradGuard in float32, in eval
// mode, and is put back in the mode it came in; an exception from the plugin is a PluginError naming it.
// An image that cannot be read or decoded is left out, counted in Features::skipped and named in a warning (the first
// three), as training replaces such images; DataError when none can be read, for a missing label where labels are
// required, and for an image --transform none cannot take.
Features extract_features(const Component<sdk::Encoder>& encoder, const Dataset& data, const ExtractOptions& opts,
                          const at::Device& device);

}  // namespace ijepa::host
