// knn: equal to a loop-based reference, chunking-independent, k clamped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <ATen/ATen.h>

#include "eval_test_util.hpp"
#include "knn.hpp"
#include "probe_common.hpp"

namespace ep = ijepa::plugins::eval_probes;
namespace sdk = ijepa::sdk;

namespace {

// Straightforward weighted k-NN in double: normalise, all similarities, sort, k best vote exp(sim / T).
std::vector<std::int64_t> reference_knn(const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x,
                                        std::int64_t C, std::int64_t k, double T) {
  const at::Tensor a = train_x.to(at::kDouble).contiguous(), b = test_x.to(at::kDouble).contiguous();
  const std::int64_t ntr = a.size(0), nte = b.size(0), F = a.size(1);
  const double* pa = a.data_ptr<double>();
  const double* pb = b.data_ptr<double>();
  auto norm = [F](const double* v) {
    double s = 0;
    for (std::int64_t j = 0; j < F; ++j) s += v[j] * v[j];
    return std::max(std::sqrt(s), 1e-12);
  };
  std::vector<std::int64_t> pred;
  for (std::int64_t i = 0; i < nte; ++i) {
    const double* q = pb + i * F;
    std::vector<std::pair<double, std::int64_t>> sims;
    for (std::int64_t r = 0; r < ntr; ++r) {
      const double* t = pa + r * F;
      double dot = 0;
      for (std::int64_t j = 0; j < F; ++j) dot += q[j] * t[j];
      sims.emplace_back(dot / (norm(q) * norm(t)), r);
    }
    std::sort(sims.begin(), sims.end(), [](auto& x, auto& y) { return x.first > y.first; });
    std::vector<double> votes(static_cast<std::size_t>(C), 0.0);
    for (std::int64_t j = 0; j < k; ++j)
      votes[static_cast<std::size_t>(train_y[sims[j].second].item<std::int64_t>())] += std::exp(sims[j].first / T);
    pred.push_back(std::max_element(votes.begin(), votes.end()) - votes.begin());
  }
  return pred;
}

std::vector<std::int64_t> argmax_rows(const at::Tensor& votes) {
  const at::Tensor a = votes.argmax(1).contiguous();
  return std::vector<std::int64_t>(a.data_ptr<std::int64_t>(), a.data_ptr<std::int64_t>() + a.numel());
}

double accuracy(const std::vector<std::int64_t>& pred, const at::Tensor& y) {
  std::int64_t c = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) c += pred[i] == y[static_cast<std::int64_t>(i)].item<std::int64_t>();
  return ep::percent(c, static_cast<std::int64_t>(pred.size()));
}

sdk::EvalInput random_input(std::int64_t ntr, std::int64_t nte, std::int64_t F, std::int64_t C, std::uint64_t seed) {
  at::Generator g = ep::test::gen(seed);
  sdk::EvalInput in;
  in.train = {at::randn({ntr, F}, g), at::randint(C, {ntr}, g, at::kLong)};
  in.test = {at::randn({nte, F}, g), at::randint(C, {nte}, g, at::kLong)};
  in.num_classes = C;
  in.seed = seed;
  return in;
}

}  // namespace

TEST(Knn, MatchesALoopReferenceOnRandomData) {
  const sdk::EvalInput in = random_input(300, 80, 12, 7, 21);
  for (const auto& [k, T] : std::vector<std::pair<std::int64_t, double>>{{20, 0.07}, {5, 0.5}, {1, 0.07}}) {
    const auto ref = reference_knn(in.train.features, in.train.labels, in.test.features, 7, k, T);
    const at::Tensor votes = ep::knn_votes(in.train.features, in.train.labels, in.test.features, 7, k, T);
    EXPECT_EQ(argmax_rows(votes), ref) << "k " << k << " T " << T;
    // chunking the similarity matrix changes nothing
    EXPECT_EQ(argmax_rows(ep::knn_votes(in.train.features, in.train.labels, in.test.features, 7, k, T, 7)), ref);
    ep::Knn knn(ep::KnnOptions::from_json({{"k", k}, {"temperature", T}}));
    const sdk::Metrics m = knn.evaluate(in);
    EXPECT_EQ(m.at("top1"), accuracy(ref, in.test.labels));
    EXPECT_EQ(m.at("k"), static_cast<double>(k));
    EXPECT_TRUE(m.count("top5"));
  }
}

TEST(Knn, VotesAreTheWeightsOfTheNeighboursClasses) {
  // one test row, three training rows: similarities 1, 0, -1 (k = 2): votes exp(0) for class 1, exp(-1/T) for 0
  const at::Tensor train = at::tensor(std::vector<float>{1, 0, 0, 1, -1, 0}).view({3, 2});
  const at::Tensor y = at::tensor(std::vector<std::int64_t>{1, 0, 0}, at::kLong);
  const at::Tensor votes = ep::knn_votes(train, y, at::tensor(std::vector<float>{2, 0}).view({1, 2}), 3, 2, 0.5);
  EXPECT_NEAR(votes[0][1].item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(votes[0][0].item<double>(), std::exp(-1.0 / 0.5), 1e-6);
  EXPECT_EQ(votes[0][2].item<double>(), 0.0);
}

// Top-5 as DINO counts it: the first min(5, k) predictions. With k = 1 a row has one voted class and its top-5 is
// its top-1; topk over 5 filled the four empty slots with unvoted classes in index order (71.8 against 50.2).
TEST(Knn, TopFiveTakesAtMostKPredictions) {
  const sdk::EvalInput in = random_input(300, 200, 12, 6, 24);
  ep::Knn k1(ep::KnnOptions::from_json({{"k", 1}, {"temperature", 0.07}}));
  const sdk::Metrics m1 = k1.evaluate(in);
  EXPECT_EQ(m1.at("top5"), m1.at("top1"));
  EXPECT_LT(m1.at("top5"), 50.0) << "random labels: about 1 in 6 right";
  // k = 3: the top 3 of the vote table.
  ep::Knn k3(ep::KnnOptions::from_json({{"k", 3}, {"temperature", 0.07}}));
  const at::Tensor votes = ep::knn_votes(in.train.features, in.train.labels, in.test.features, 6, 3, 0.07);
  EXPECT_EQ(k3.evaluate(in).at("top5"),
            100.0 * static_cast<double>(ep::count_topk_correct(votes, in.test.labels, 3)) / 200.0);
  // k >= 5: five predictions, as before.
  ep::Knn k20(ep::KnnOptions::from_json({{"k", 20}, {"temperature", 0.07}}));
  const at::Tensor v20 = ep::knn_votes(in.train.features, in.train.labels, in.test.features, 6, 20, 0.07);
  EXPECT_EQ(k20.evaluate(in).at("top5"),
            100.0 * static_cast<double>(ep::count_topk_correct(v20, in.test.labels, 5)) / 200.0);
}

TEST(Knn, KIsClampedToTheTrainingRows) {
  const sdk::EvalInput in = random_input(6, 30, 5, 3, 22);
  ep::Knn knn(ep::KnnOptions::from_json(ep::KnnOptions::defaults()));
  const sdk::Metrics m = knn.evaluate(in);
  EXPECT_EQ(m.at("k"), 6.0);
  const auto ref = reference_knn(in.train.features, in.train.labels, in.test.features, 3, 6, 0.07);
  EXPECT_EQ(m.at("top1"), accuracy(ref, in.test.labels));
  EXPECT_FALSE(m.count("top5"));
}

TEST(Knn, SeparableClustersScoreHigh) {
  ep::Knn knn(ep::KnnOptions::from_json(ep::KnnOptions::defaults()));
  const sdk::Metrics m = knn.evaluate(ep::test::separable(10, 32, 50, 30, 23));
  EXPECT_GT(m.at("top1"), 95.0);
  EXPECT_EQ(m.at("top5"), 100.0);
}

TEST(Knn, ChunkRowsBoundTheSimilarityMatrix) {
  EXPECT_EQ(ep::knn_chunk_rows(50000, 10000), (std::int64_t{1} << 24) / 50000);
  EXPECT_EQ(ep::knn_chunk_rows(10, 7), 7);
  EXPECT_EQ(ep::knn_chunk_rows(std::int64_t{1} << 30, 7), 1);
}
