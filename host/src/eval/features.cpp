#include "ijepa/host/eval/features.hpp"

#include <algorithm>
#include <numeric>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "ijepa/host/data/rng.hpp"
#include "ijepa/host/data/transforms.hpp"
#include "ijepa/host/hosting/output_checks.hpp"
#include "ijepa/host/log/logging.hpp"
#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace ijepa::host {

std::vector<std::int64_t> subset_indices(std::int64_t n, std::int64_t limit, std::uint64_t seed) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  std::iota(idx.begin(), idx.end(), 0);
  if (limit <= 0 || limit >= n) return idx;
  // Partial Fisher-Yates with the project's splitmix generator: the subset depends only on (n, limit, seed).
  SampleRng rng(seed ^ 0x5eed0fe7a11ULL);
  for (std::int64_t i = 0; i < limit; ++i) {
    const std::int64_t j = rng.integer(i, n - 1);
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  idx.resize(static_cast<std::size_t>(limit));
  std::sort(idx.begin(), idx.end());
  return idx;
}

namespace {

// One image as float32 [3, S, S], normalised. An image that cannot be read or decoded is the source's DataError
// (the caller skips it, as training does); a missing label or a size --transform none cannot take is an error.
struct Unreadable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

at::Tensor load_one(const Dataset& data, std::int64_t index, const ExtractOptions& o, std::int64_t* label) {
  Image img;
  try {
    img = data.get(index);
  } catch (const DataError& e) {
    throw Unreadable(e.what());
  }
  *label = img.label;
  if (o.require_labels && img.label < 0) {
    throw DataError(data.describe() + ": image " + std::to_string(index) + " has no label");
  }
  if (o.resize_crop) return eval_transform(img.pixels, o.image_size);
  const std::int64_t h = img.pixels.size(0), w = img.pixels.size(1);
  if (h != o.image_size || w != o.image_size) {
    throw DataError(data.describe() + ": image " + std::to_string(index) + " is " + std::to_string(w) + "x" +
                    std::to_string(h) + ", but --transform none needs exactly " + std::to_string(o.image_size) + "x" +
                    std::to_string(o.image_size));
  }
  return crop_resize_normalize(img.pixels, CropBox{0, 0, h, w}, o.image_size, /*flip=*/false);
}

// The encoder's output for a batch: mean-pooled, as tokens, or the last four blocks' means. The plugin's calls are
// tagged with its id (a throw from encode() names the plugin, as in training).
at::Tensor pooled(const Component<sdk::Encoder>& enc, const at::Tensor& x, FeatureKind kind) {
  if (kind == FeatureKind::tokens || kind == FeatureKind::last) {
    const at::Tensor t = enc.call([&](sdk::Encoder& e) { return e.encode(x, nullptr); });
    // As in training: [B, N, D] (a probe was blamed for an encoder's rows, and embed wrote features of the wrong width)
    check_tokens(enc, t, {x.size(0), enc->grid().count(), enc->embed_dim()}, "encode(images)", "[B, N, D]");
    return kind == FeatureKind::tokens ? t : t.mean(1);
  }
  const auto* lo = static_cast<const sdk::LayerOutputs*>(enc->capability(sdk::kLayerOutputsId));
  if (lo == nullptr) {
    throw ConfigError(std::string("features 'last4': the encoder does not offer the ") + sdk::kLayerOutputsId +
                      " capability");
  }
  const std::int64_t depth = enc.call([](sdk::Encoder& e) { return e.depth(); });
  std::vector<at::Tensor> layers =
      enc.call([&](sdk::Encoder&) { return lo->last_layers(x, std::min<std::int64_t>(4, depth)); });
  std::vector<at::Tensor> means;
  means.reserve(layers.size());
  for (const auto& t : layers) means.push_back(t.mean(1));
  return at::cat(means, 1);
}

// Eval mode for the extraction, and the encoder's own mode back afterwards: the trainer keeps its target encoder in
// training mode (as the official code does), and an in-run evaluation must not change that (a plugin encoder with
// dropout or batch norm would otherwise train differently after the first evaluation).
class EvalModeScope {
 public:
  explicit EvalModeScope(sdk::Encoder& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalModeScope() { m_.train(was_training_); }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  sdk::Encoder& m_;
  bool was_training_;
};

}  // namespace

Features extract_features(const Component<sdk::Encoder>& encoder, const Dataset& data, const ExtractOptions& o,
                          const at::Device& device) {
  if (o.batch_size < 1) throw ConfigError("feature extraction: batch size must be >= 1");
  const std::vector<std::int64_t> idx = subset_indices(data.size(), o.limit, o.seed);
  const auto n = static_cast<std::int64_t>(idx.size());
  if (n == 0) throw DataError(data.describe() + ": no images to extract features from");
  at::NoGradGuard no_grad;
  const EvalModeScope eval_mode(*encoder);
  std::vector<at::Tensor> chunks;
  at::Tensor labels = at::empty({n}, at::kLong);
  auto* lab = labels.data_ptr<std::int64_t>();
  std::vector<std::int64_t> kept;  // positions in idx of the images that were read
  std::int64_t skipped = 0;
  for (std::int64_t start = 0; start < n; start += o.batch_size) {
    const std::int64_t b = std::min(o.batch_size, n - start);
    at::Tensor images = at::empty({b, 3, o.image_size, o.image_size}, at::kFloat);
    std::vector<std::string> errors(static_cast<std::size_t>(b)), unreadable(static_cast<std::size_t>(b));
    at::parallel_for(0, b, 1, [&](std::int64_t lo, std::int64_t hi) {
      for (std::int64_t i = lo; i < hi; ++i) {
        try {
          std::int64_t label = -1;
          images[i].copy_(load_one(data, idx[static_cast<std::size_t>(start + i)], o, &label));
          lab[start + i] = label;
        } catch (const Unreadable& e) {
          unreadable[static_cast<std::size_t>(i)] = e.what();
        } catch (const std::exception& e) {
          errors[static_cast<std::size_t>(i)] = e.what();
        }
      }
    });
    for (const auto& e : errors) {
      if (!e.empty()) throw DataError(e);
    }
    std::vector<std::int64_t> rows;  // the batch's readable images
    for (std::int64_t i = 0; i < b; ++i) {
      const std::string& u = unreadable[static_cast<std::size_t>(i)];
      if (u.empty()) {
        rows.push_back(i);
        kept.push_back(start + i);
      } else if (++skipped <= 3) {
        logging::warn("feature extraction: skipping an unreadable image: " + u);
      }
    }
    if (!rows.empty()) {
      if (static_cast<std::int64_t>(rows.size()) < b) images = images.index_select(0, at::tensor(rows, at::kLong));
      at::Tensor f = pooled(encoder, images.to(device), o.kind);
      chunks.push_back(f.to(at::kCPU, at::kFloat).contiguous());
    }
    if (o.on_batch) o.on_batch(start + b, n);
  }
  if (chunks.empty()) throw DataError(data.describe() + ": none of its " + std::to_string(n) + " images could be read");
  if (skipped > 3) logging::warn("feature extraction: " + std::to_string(skipped) + " unreadable images skipped in all");
  Features out;
  out.features = chunks.size() == 1 ? chunks[0] : at::cat(chunks, 0);
  const at::Tensor keep = at::tensor(kept, at::kLong);
  out.labels = labels.index_select(0, keep);
  out.indices = at::tensor(idx, at::kLong).index_select(0, keep);
  out.skipped = skipped;
  return out;
}

}  // namespace ijepa::host
