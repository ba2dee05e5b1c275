#include "random_masker.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <ATen/ATen.h>

#include "mask_util.hpp"

namespace ijepa::plugins::masker_ablations {

RandomMasker::RandomMasker(RandomOptions opts, const sdk::BuildContext& ctx)
    : opts_(opts), grid_(ctx.grid), seed_(ctx.seed) {
  check_grid("random", grid_, 1, 1);
  const std::int64_t n = grid_.count();
  k_tgt_ = static_cast<std::int64_t>(std::llround(opts_.ratio * static_cast<double>(n)));
  const std::int64_t k_ctx = n - k_tgt_;
  if (k_tgt_ <= opts_.min_keep || k_ctx <= opts_.min_keep) {
    const bool target = k_tgt_ <= opts_.min_keep;
    std::ostringstream os;
    os << "key 'min_keep': " << opts_.min_keep << " is not below the " << (target ? "target" : "context") << " size "
       << (target ? k_tgt_ : k_ctx) << " (ratio " << opts_.ratio << " of the " << grid_.h << "x" << grid_.w
       << " grid: " << k_tgt_ << " target / " << k_ctx << " context patches)";
    throw std::invalid_argument(os.str());
  }
}

sdk::MaskSet RandomMasker::sample(std::int64_t batch_size, std::uint64_t batch_number) {
  check_batch("random", batch_size);
  at::Generator g = cpu_generator(sdk::position_seed(seed_, batch_number));
  const std::int64_t n = grid_.count();
  const auto nb = static_cast<std::size_t>(batch_size);
  std::vector<std::vector<std::int64_t>> tgt(nb), ctx(nb);
  for (std::size_t b = 0; b < nb; ++b) {
    // torch.randperm(N, generator=g): the first K_tgt ids are the target, the rest the context (both sorted).
    const at::Tensor perm = at::randperm(n, g, at::TensorOptions().dtype(at::kLong));  // [N]
    const std::int64_t* p = perm.data_ptr<std::int64_t>();
    tgt[b].assign(p, p + k_tgt_);
    ctx[b].assign(p + k_tgt_, p + n);
    std::sort(tgt[b].begin(), tgt[b].end());
    std::sort(ctx[b].begin(), ctx[b].end());
  }
  sdk::MaskSet out;
  out.target.push_back(stack_truncated(tgt));   // every row has K_tgt ids: equal across the batch by construction
  out.context.push_back(stack_truncated(ctx));  // every row has N - K_tgt ids
  return out;
}

}  // namespace ijepa::plugins::masker_ablations
