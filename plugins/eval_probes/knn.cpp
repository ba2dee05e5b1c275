#include "knn.hpp"

#include <algorithm>
#include <stdexcept>

#include <ATen/ATen.h>

#include "ijepa/sdk/config.hpp"
#include "probe_common.hpp"

namespace ijepa::plugins::eval_probes {

namespace {
constexpr std::int64_t kChunkElems = std::int64_t{1} << 24;  // similarities per chunk (64 MiB of float32)
constexpr double kNormEps = 1e-12;                           // as F.normalize
constexpr std::int64_t kVoteRows = 8192;                     // test rows per vote table in evaluate()

at::Tensor l2_normalize(const at::Tensor& x) {
  return x / x.norm(2, /*dim=*/{1}, /*keepdim=*/true).clamp_min(kNormEps);
}
}  // namespace

nlohmann::json KnnOptions::defaults() { return {{"k", 20}, {"temperature", 0.07}}; }

nlohmann::json KnnOptions::doc() {
  return {{"k", "neighbours voting per test row (DINO: 20); clamped to the number of training rows; >= 1"},
          {"temperature", "vote weight exp(cosine similarity / temperature) of each neighbour (DINO: 0.07); > 0"}};
}

KnnOptions KnnOptions::from_json(const nlohmann::json& cfg) {
  KnnOptions o;
  o.k = sdk::get_int_at_least(cfg, "k", 1);
  o.temperature = get_positive(cfg, "temperature");
  return o;
}

std::int64_t knn_chunk_rows(std::int64_t train_n, std::int64_t test_n) {
  return std::max<std::int64_t>(1, std::min(test_n, kChunkElems / std::max<std::int64_t>(train_n, 1)));
}

at::Tensor knn_votes(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                     std::int64_t num_classes, std::int64_t k, double temperature, std::int64_t chunk_rows) {
  const std::int64_t ntr = train_x.size(0), nte = test_x.size(0);
  if (k < 1 || k > ntr) throw std::invalid_argument("knn_votes: k must lie in [1, train rows]");
  const at::Tensor train_t = l2_normalize(train_x).t().contiguous();  // [F, Ntr]
  const at::Tensor test_n = l2_normalize(test_x);
  at::Tensor votes = at::zeros({nte, num_classes}, test_x.options());
  const std::int64_t chunk = chunk_rows > 0 ? chunk_rows : knn_chunk_rows(ntr, nte);
  for (std::int64_t s = 0; s < nte; s += chunk) {
    const std::int64_t e = std::min(nte, s + chunk);
    const at::Tensor sim = at::mm(test_n.slice(0, s, e), train_t);  // [c, Ntr]
    auto [val, idx] = sim.topk(k, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
    const at::Tensor w = ((val - val.narrow(1, 0, 1)) / temperature).exp_();
    const at::Tensor lab = train_y.index_select(0, idx.reshape({-1})).view_as(idx);
    votes.slice(0, s, e).scatter_add_(1, lab, w);
  }
  return votes;
}

sdk::Metrics Knn::evaluate(const sdk::EvalInput& in) {
  const CheckedInput c = check_input(in, "knn", FeatureKind::pooled, Placement::features_device);
  const std::int64_t k = std::min(opts_.k, c.train_x.size(0));
  const std::int64_t n = c.test_x.size(0);
  const bool top5 = reports_top5(c.num_classes);
  std::int64_t c1 = 0, c5 = 0;
  for (std::int64_t s = 0; s < n; s += kVoteRows) {  // bounds the [rows, C] vote table
    const std::int64_t e = std::min(n, s + kVoteRows);
    const at::Tensor votes =
        knn_votes(c.train_x, c.train_y, c.test_x.slice(0, s, e), c.num_classes, k, opts_.temperature);
    const at::Tensor y = c.test_y.slice(0, s, e);
    c1 += count_topk_correct(votes, y, 1);
    // DINO's top-5: the first min(5, k) predictions (k neighbours vote for at most k classes; with k = 1 the
    // other four slots were unvoted classes in index order, and top-5 read far above top-1).
    if (top5) c5 += count_topk_correct(votes, y, std::min<std::int64_t>(5, k));
  }
  sdk::Metrics m{{"top1", percent(c1, n)}, {"k", static_cast<double>(k)}};
  if (top5) m["top5"] = percent(c5, n);
  return m;
}

}  // namespace ijepa::plugins::eval_probes
