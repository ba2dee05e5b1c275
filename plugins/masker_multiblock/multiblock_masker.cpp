#include "multiblock_masker.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "ijepa/sdk/seeds.hpp"

namespace ijepa::plugins::masker_multiblock {

namespace {

constexpr int kTimeout = 20;  // failed draws before one more target exclusion is dropped (reference `og_timeout`)

// torch.Generator().manual_seed(seed) on the CPU.
at::Generator cpu_generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// torch.randint(lo, hi, (1,), generator=g).item(): hi exclusive.
std::int64_t randint(at::Generator& g, std::int64_t lo, std::int64_t hi) {
  return at::randint(lo, hi, {1}, g, at::TensorOptions().dtype(at::kLong)).item<std::int64_t>();
}

// Throws if some reachable block of `which` keeps no more than min_keep patches (the reference would hang).
void check_min_keep(const MultiBlockOptions& o, sdk::PatchGrid grid, bool target) {
  const auto scale = target ? o.pred_mask_scale : o.enc_mask_scale;
  const auto aspect = target ? o.aspect_ratio : std::pair<double, double>{1.0, 1.0};
  const auto sizes = reachable_block_sizes(grid, scale, aspect, o.independent_scale_aspect,
                                           o.variant == Variant::fixed);
  const BlockSize smallest =
      *std::min_element(sizes.begin(), sizes.end(), [](const BlockSize& a, const BlockSize& b) {
        return a.area() < b.area();
      });
  if (smallest.area() > o.min_keep) return;
  std::ostringstream os;
  os << "key 'min_keep': " << o.min_keep << " is not below the smallest reachable " << (target ? "target" : "context")
     << " block " << smallest.h << "x" << smallest.w << "=" << smallest.area() << " patches on the " << grid.h << "x"
     << grid.w << " grid (" << (target ? "pred_mask_scale " : "enc_mask_scale ") << range_text(scale)
     << (target ? ", aspect_ratio " + range_text(aspect) : std::string()) << "); the sampler would never finish";
  throw std::invalid_argument(os.str());
}

}  // namespace

MultiBlockMasker::MultiBlockMasker(MultiBlockOptions opts, const sdk::BuildContext& ctx)
    : opts_(opts), grid_(ctx.grid), seed_(ctx.seed), host_(ctx.host) {
  if (grid_.h < 1 || grid_.w < 1)
    throw std::invalid_argument("multiblock masker: empty patch grid " + std::to_string(grid_.h) + "x" +
                                std::to_string(grid_.w) + " (image_size / patch_size)");
  check_min_keep(opts_, grid_, /*target=*/true);
  check_min_keep(opts_, grid_, /*target=*/false);
}

const void* MultiBlockMasker::capability(std::string_view id) const noexcept {
  if (id == sdk::kMaskStatsId) return static_cast<const sdk::MaskStats*>(this);
  return nullptr;
}

BlockSize MultiBlockMasker::draw_size(at::Generator& g, std::pair<double, double> scale,
                                      std::pair<double, double> aspect) const {
  // torch.rand(1, generator=g).item(): a float32, promoted to double as Python does.
  const double r_scale = static_cast<double>(at::rand({1}, g, at::TensorOptions().dtype(at::kFloat)).item<float>());
  const double r_aspect =
      opts_.independent_scale_aspect
          ? static_cast<double>(at::rand({1}, g, at::TensorOptions().dtype(at::kFloat)).item<float>())
          : r_scale;
  return block_size_from_draws(grid_, scale, aspect, r_scale, r_aspect, opts_.variant == Variant::fixed);
}

std::pair<BlockSize, BlockSize> MultiBlockMasker::block_sizes(std::uint64_t batch_number) const {
  at::Generator g = cpu_generator(batch_number);
  const BlockSize pred = draw_size(g, opts_.pred_mask_scale, opts_.aspect_ratio);  // first draw: targets
  const BlockSize enc = draw_size(g, opts_.enc_mask_scale, {1.0, 1.0});            // second draw: context
  return {pred, enc};
}

MultiBlockMasker::Block MultiBlockMasker::sample_block(at::Generator& pos, BlockSize size,
                                                       const std::vector<Block>* excluded) const {
  const std::int64_t extra = opts_.variant == Variant::fixed ? 1 : 0;  // fixed: the last row/column is reachable
  const std::int64_t n_excl = excluded != nullptr ? static_cast<std::int64_t>(excluded->size()) : 0;
  std::int64_t tries = 0;
  int timeout = kTimeout;
  Block b;
  b.size = size;
  while (true) {
    b.top = randint(pos, 0, grid_.h - size.h + extra);
    b.left = randint(pos, 0, grid_.w - size.w + extra);
    // constrain_mask: multiply by the complements of the first max(n - tries, 0) target blocks
    const std::int64_t active = std::max<std::int64_t>(n_excl - tries, 0);
    b.ids.clear();
    for (std::int64_t r = b.top; r < b.top + size.h; ++r) {
      for (std::int64_t c = b.left; c < b.left + size.w; ++c) {
        bool ok = true;
        for (std::int64_t k = 0; k < active && ok; ++k) {
          const Block& t = (*excluded)[static_cast<std::size_t>(k)];
          ok = !(r >= t.top && r < t.top + t.size.h && c >= t.left && c < t.left + t.size.w);
        }
        if (ok) b.ids.push_back(r * grid_.w + c);
      }
    }
    if (static_cast<std::int64_t>(b.ids.size()) > opts_.min_keep) break;
    if (--timeout == 0) {
      ++tries;
      timeout = kTimeout;
    }
  }
  b.fell_back = excluded != nullptr && tries > 0;
  return b;
}

sdk::MaskSet MultiBlockMasker::sample(std::int64_t batch_size, std::uint64_t batch_number) {
  if (batch_size < 1) throw std::invalid_argument("multiblock masker: batch size must be >= 1");
  const auto [pred_size, enc_size] = block_sizes(batch_number);
  at::Generator pos = cpu_generator(sdk::position_seed(seed_, batch_number));  // the reference's global RNG

  const auto nb = static_cast<std::size_t>(batch_size);
  const auto npred = static_cast<std::size_t>(opts_.num_pred_masks);
  const auto nenc = static_cast<std::size_t>(opts_.num_enc_masks);
  std::vector<std::vector<Block>> preds(nb), encs(nb);  // [B][npred], [B][nenc]
  std::int64_t k_pred = grid_.count();
  std::int64_t k_enc = grid_.count();
  std::int64_t fallbacks = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    preds[b].reserve(npred);
    for (std::size_t i = 0; i < npred; ++i) {
      preds[b].push_back(sample_block(pos, pred_size, nullptr));
      k_pred = std::min<std::int64_t>(k_pred, static_cast<std::int64_t>(preds[b].back().ids.size()));
    }
    const std::vector<Block>* acceptable = opts_.allow_overlap ? nullptr : &preds[b];
    encs[b].reserve(nenc);
    for (std::size_t j = 0; j < nenc; ++j) {
      encs[b].push_back(sample_block(pos, enc_size, acceptable));
      k_enc = std::min<std::int64_t>(k_enc, static_cast<std::int64_t>(encs[b].back().ids.size()));
      if (encs[b].back().fell_back) ++fallbacks;
    }
  }

  // Truncation to the batch minimum. faithful: the first K ids. fixed (context only): a random K-subset
  // drawn from the position generator (torch.randperm(len, generator)[:K], image-major), kept sorted.
  if (opts_.variant == Variant::fixed) {
    for (std::size_t b = 0; b < nb; ++b) {
      for (std::size_t j = 0; j < nenc; ++j) {
        std::vector<std::int64_t>& ids = encs[b][j].ids;
        const auto len = static_cast<std::int64_t>(ids.size());
        if (len <= k_enc) continue;
        const at::Tensor perm = at::randperm(len, pos, at::TensorOptions().dtype(at::kLong));  // [len]
        const std::int64_t* p = perm.data_ptr<std::int64_t>();
        std::vector<std::int64_t> kept(static_cast<std::size_t>(k_enc));
        for (std::int64_t k = 0; k < k_enc; ++k) kept[static_cast<std::size_t>(k)] = ids[static_cast<std::size_t>(p[k])];
        std::sort(kept.begin(), kept.end());
        ids = std::move(kept);
      }
    }
  }
  // stack(masks, b, i, K) -> int64 [B, K] holding the first K ids of mask i of each image
  auto stack = [&](const std::vector<std::vector<Block>>& masks, std::size_t i, std::int64_t k) {
    at::Tensor out = at::empty({batch_size, k}, at::TensorOptions().dtype(at::kLong));  // [B, K]
    std::int64_t* dst = out.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < nb; ++b) {
      std::copy_n(masks[b][i].ids.begin(), k, dst + static_cast<std::int64_t>(b) * k);
    }
    return out;
  };
  sdk::MaskSet out;
  out.target.reserve(npred);
  for (std::size_t i = 0; i < npred; ++i) out.target.push_back(stack(preds, i, k_pred));
  out.context.reserve(nenc);
  for (std::size_t j = 0; j < nenc; ++j) out.context.push_back(stack(encs, j, k_enc));
  out.fallbacks = fallbacks;

  if (fallbacks > 0) {
    fallbacks_.fetch_add(fallbacks, std::memory_order_relaxed);
    const std::string msg = "multiblock: batch " + std::to_string(batch_number) + ": " + std::to_string(fallbacks) +
                            " context block(s) dropped target exclusions to keep more than min_keep=" +
                            std::to_string(opts_.min_keep) + " patches";
    // Like the reference's warning, but once per masker at warn level, then at debug level.
    sdk::log(host_, warned_.exchange(true) ? IJEPA_LOG_DEBUG : IJEPA_LOG_WARN, msg);
  }
  return out;
}

}  // namespace ijepa::plugins::masker_multiblock
