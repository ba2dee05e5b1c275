#include "probe_common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <ATen/ATen.h>

#include "ijepa/sdk/config.hpp"

namespace ijepa::plugins::eval_probes {

namespace {

constexpr std::int64_t kFiniteCheckRows = 4096;

std::int64_t row_elems(const at::Tensor& x) { return x.size(0) > 0 ? x.numel() / x.size(0) : 0; }

std::string shape_text(const at::Tensor& t) {
  std::ostringstream os;
  os << "[";
  for (std::int64_t i = 0; i < t.dim(); ++i) os << (i ? "," : "") << t.size(i);
  os << "]";
  return os.str();
}

[[noreturn]] void fail(const std::string& who, const std::string& what) {
  throw std::invalid_argument(who + ": " + what);
}

// Checks one split; returns (features float32 contiguous, labels int64 contiguous).
std::pair<at::Tensor, at::Tensor> check_split(const sdk::FeatureSplit& s, const char* split, const std::string& who,
                                              FeatureKind kind, std::int64_t num_classes, Placement where) {
  const std::string sp(split);
  if (!s.features.defined()) fail(who, "the " + sp + " split has no features (undefined tensor)");
  if (!s.labels.defined()) fail(who, "the " + sp + " split has no labels (undefined tensor)");
  const at::Tensor& x = s.features;
  if (kind == FeatureKind::pooled && x.dim() != 2)
    fail(who, "expects pooled features [N,F]; got " + shape_text(x) + " for the " + sp + " split");
  if (kind == FeatureKind::tokens && x.dim() != 3)
    fail(who, "expects token features [N,T,D]; got " + shape_text(x) + " for the " + sp + " split");
  if (x.size(0) == 0) fail(who, "the " + sp + " split is empty (0 rows)");
  for (std::int64_t d = 1; d < x.dim(); ++d)
    if (x.size(d) == 0) fail(who, sp + " features " + shape_text(x) + " have an empty dimension");
  if (!at::isFloatingType(x.scalar_type()))
    fail(who, sp + " features must be floating point (float32); got " + std::string(c10::toString(x.scalar_type())));
  const at::Tensor& y = s.labels;
  if (y.scalar_type() != at::kLong || y.dim() != 1)
    fail(who,
         sp + " labels must be int64 [N]; got " + std::string(c10::toString(y.scalar_type())) + " " + shape_text(y));
  if (y.size(0) != x.size(0))
    fail(who, "the " + sp + " split has " + std::to_string(x.size(0)) + " feature rows but " +
                  std::to_string(y.size(0)) + " labels");
  at::Tensor yc = y.to(at::kCPU).contiguous();
  const at::Tensor bad = at::logical_or(yc < 0, yc >= num_classes);
  if (bad.any().item<bool>()) {
    const std::int64_t row = bad.nonzero().select(1, 0)[0].item<std::int64_t>();
    fail(who, sp + " label " + std::to_string(yc[row].item<std::int64_t>()) + " at row " + std::to_string(row) +
                  " is outside [0, " + std::to_string(num_classes) + ")");
  }
  at::Tensor xc = (where == Placement::cpu ? x.to(at::kCPU) : x).to(at::kFloat).contiguous();
  const std::int64_t n = xc.size(0);
  for (std::int64_t s0 = 0; s0 < n; s0 += kFiniteCheckRows) {  // chunked: no [N, F] mask at once
    const at::Tensor part = xc.slice(0, s0, std::min(n, s0 + kFiniteCheckRows));
    const at::Tensor finite = at::isfinite(part).reshape({part.size(0), row_elems(xc)}).all(1);
    if (!finite.all().item<bool>()) {
      const std::int64_t row = s0 + at::logical_not(finite).nonzero().select(1, 0)[0].item<std::int64_t>();
      fail(who, sp + " features contain a non-finite value (NaN or Inf) at row " + std::to_string(row));
    }
  }
  return {xc, yc.to(xc.device())};
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

CheckedInput check_input(const sdk::EvalInput& in, const std::string& who, FeatureKind kind, Placement where) {
  if (in.num_classes < 2)
    fail(who, "num_classes is " + std::to_string(in.num_classes) + "; a probe needs at least 2 classes");
  CheckedInput c;
  c.num_classes = in.num_classes;
  c.seed = in.seed;
  std::tie(c.train_x, c.train_y) = check_split(in.train, "train", who, kind, in.num_classes, where);
  std::tie(c.test_x, c.test_y) = check_split(in.test, "test", who, kind, in.num_classes, where);
  const std::int64_t last = c.train_x.dim() - 1;
  if (c.train_x.size(last) != c.test_x.size(last))
    fail(who, std::string("train features have width ") + std::to_string(c.train_x.size(last)) +
                  " but test features have width " + std::to_string(c.test_x.size(last)));
  return c;
}

std::int64_t count_topk_correct(const at::Tensor& scores, const at::Tensor& labels, std::int64_t k) {
  const at::Tensor top = std::get<1>(scores.topk(k, /*dim=*/1, /*largest=*/true, /*sorted=*/true));
  return top.eq(labels.unsqueeze(1)).any(1).sum().item<std::int64_t>();
}

double percent(std::int64_t correct, std::int64_t n) {
  return n > 0 ? 100.0 * static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t salt) { return splitmix64(seed ^ splitmix64(salt)); }

std::mt19937_64 make_rng(std::uint64_t seed, std::uint64_t salt) { return std::mt19937_64(derive_seed(seed, salt)); }

std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n: reject the short top range
  std::uint64_t r = rng();
  while (r < threshold) r = rng();
  return r % n;
}

void shuffle(std::vector<std::int64_t>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(uniform_below(rng, i));
    std::swap(v[i - 1], v[j]);
  }
}

std::vector<std::vector<std::int64_t>> rows_by_class(const at::Tensor& labels, std::int64_t num_classes) {
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(num_classes));
  const at::Tensor y = labels.to(at::kCPU, at::kLong).contiguous();
  const std::int64_t* p = y.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < y.numel(); ++i) rows[static_cast<std::size_t>(p[i])].push_back(i);
  return rows;
}

at::Tensor to_index_tensor(const std::vector<std::int64_t>& rows) {
  at::Tensor t = at::empty({static_cast<std::int64_t>(rows.size())}, at::kLong);
  std::copy(rows.begin(), rows.end(), t.data_ptr<std::int64_t>());
  return t;
}

double get_positive(const nlohmann::json& cfg, const char* key) {
  const auto v = sdk::get<double>(cfg, key);
  if (!(std::isfinite(v) && v > 0.0))
    throw std::invalid_argument(std::string("key '") + key + "': must be a finite number > 0, got " + number_text(v));
  return v;
}

double get_non_negative(const nlohmann::json& cfg, const char* key) {
  const auto v = sdk::get<double>(cfg, key);
  if (!(std::isfinite(v) && v >= 0.0))
    throw std::invalid_argument(std::string("key '") + key + "': must be a finite number >= 0, got " + number_text(v));
  return v;
}

std::vector<double> get_number_list(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) throw std::invalid_argument(std::string("missing key '") + key + "'");
  if (!it->is_array() || it->empty())
    throw std::invalid_argument(std::string("key '") + key + "': expected a non-empty list of numbers, got " +
                                it->dump());
  std::vector<double> out;
  for (const auto& v : *it) {
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      throw std::invalid_argument(std::string("key '") + key + "': expected a list of finite numbers, got " +
                                  it->dump());
    out.push_back(v.get<double>());
  }
  return out;
}

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  for (int prec = 1; prec <= 17; ++prec) {  // shortest text that reads back to v
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace ijepa::plugins::eval_probes
