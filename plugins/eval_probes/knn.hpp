#pragma once
// knn: weighted k-nearest-neighbour classifier of DINO on L2-normalised frozen features.
#include <cstdint>
#include <string_view>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/evaluator.hpp"

namespace ijepa::plugins::eval_probes {

struct KnnOptions {
  std::int64_t k = 20;        // neighbours (clamped to the training rows)
  double temperature = 0.07;  // weight exp(similarity / temperature)

  static KnnOptions from_json(const nlohmann::json& cfg);
  static nlohmann::json defaults();
  static nlohmann::json doc();
};

// knn_votes(train_x [Ntr,F], train_y [Ntr], test_x [Nte,F], C, k, T) -> [Nte, C] float32 class votes:
// features are L2-normalised, the cosine similarities to the training rows are computed in chunks of test rows,
// and each of the k most similar training rows (k <= Ntr) votes for its class with weight
// exp((sim - best_sim) / T), i.e. exp(sim / T) scaled per row (same ranking, no overflow). chunk_rows > 0 overrides
// the test rows per similarity chunk (knn_chunk_rows otherwise); the votes do not depend on it (up to float rounding).
at::Tensor knn_votes(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                     std::int64_t num_classes, std::int64_t k, double temperature, std::int64_t chunk_rows = 0);

// Test rows per similarity chunk so that a chunk holds about 16M similarities.
std::int64_t knn_chunk_rows(std::int64_t train_n, std::int64_t test_n);

class Knn final : public sdk::Evaluator {
 public:
  explicit Knn(KnnOptions o) : opts_(o) {}
  // evaluate -> top1, top5 (num_classes > 5), k (the k used after clamping)
  sdk::Metrics evaluate(const sdk::EvalInput& in) override;
  bool wants_tokens() const override { return false; }
  // Takes its features on the evaluation device (a GPU too): ijepa.device_features/1.
  const void* capability(std::string_view id) const noexcept override {
    return id == sdk::kDeviceFeaturesId ? this : nullptr;
  }

 private:
  KnnOptions opts_;
};

}  // namespace ijepa::plugins::eval_probes
