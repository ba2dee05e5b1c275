#pragma once
// Shared pieces of the probe evaluators: input checks (one-line errors), top-k counting, config readers and a
// portable seeded random stream (identical on every platform, independent of torch's global generator).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "ijepa/sdk/evaluator.hpp"

namespace ijepa::plugins::eval_probes {

enum class FeatureKind { pooled, tokens };

// The checked input: CPU, contiguous float32 features and int64 labels.
struct CheckedInput {
  at::Tensor train_x;  // [N, F] or [N, T, D]
  at::Tensor train_y;  // [N]
  at::Tensor test_x;
  at::Tensor test_y;
  std::int64_t num_classes = 0;
  std::uint64_t seed = 0;
};

// check_input(in, who, kind) -> the checked input, or std::invalid_argument "<who>: <what is wrong>" (one line):
// num_classes < 2, an undefined/empty split, labels not int64 [N] or outside [0, num_classes) (split and first
// bad value named), feature/label row-count mismatch, wrong feature rank, train/test width mismatch,
// non-floating or non-finite features. Features (as float32) and labels come back on the CPU, or with
// Placement::features_device on the features' own device (the evaluators answering ijepa.device_features/1, whose
// products then run on the GPU the host extracted on).
enum class Placement { cpu, features_device };
CheckedInput check_input(const sdk::EvalInput& in, const std::string& who, FeatureKind kind,
                         Placement where = Placement::cpu);

// count_topk_correct(scores [N, C], labels [N], k) -> rows whose label is among the k highest scores (k <= C).
std::int64_t count_topk_correct(const at::Tensor& scores, const at::Tensor& labels, std::int64_t k);

// percent(correct, n) -> 100 * correct / n (0 when n == 0).
double percent(std::int64_t correct, std::int64_t n);

// Top-5 is reported only when there are more than 5 classes.
inline bool reports_top5(std::int64_t num_classes) { return num_classes > 5; }

// Portable seeded stream: mt19937_64 seeded through splitmix64(seed ^ salt).
std::mt19937_64 make_rng(std::uint64_t seed, std::uint64_t salt);
// uniform_below(rng, n) -> uniform integer in [0, n), n > 0, unbiased and identical on every platform.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n);
// shuffle(v, rng): Fisher-Yates with uniform_below (std::shuffle's algorithm is implementation-defined).
void shuffle(std::vector<std::int64_t>& v, std::mt19937_64& rng);
// derive_seed(seed, salt) -> a 64-bit seed for a torch generator.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t salt);

// rows_by_class(labels [N] int64, num_classes) -> for each class, its row indices in ascending order.
std::vector<std::vector<std::int64_t>> rows_by_class(const at::Tensor& labels, std::int64_t num_classes);
// to_index_tensor(rows) -> int64 [rows.size()] tensor.
at::Tensor to_index_tensor(const std::vector<std::int64_t>& rows);

// Config readers: std::invalid_argument("key 'k': ...") on a bad value.
double get_positive(const nlohmann::json& cfg, const char* key);      // finite, > 0
double get_non_negative(const nlohmann::json& cfg, const char* key);  // finite, >= 0
// get_number_list(cfg, key) -> the numbers of a non-empty JSON array of finite numbers.
std::vector<double> get_number_list(const nlohmann::json& cfg, const char* key);
// number_text(v) -> shortest round-tripping text of v ("0.0001", "1e-06").
std::string number_text(double v);

}  // namespace ijepa::plugins::eval_probes
