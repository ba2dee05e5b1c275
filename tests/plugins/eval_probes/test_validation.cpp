// Every input and config error: one line that names the problem.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "attentive_probe.hpp"
#include "eval_test_util.hpp"
#include "knn.hpp"
#include "linear_probe.hpp"
#include "low_shot.hpp"

namespace ep = ijepa::plugins::eval_probes;
namespace sdk = ijepa::sdk;
using ep::test::expect_one_line_error;

namespace {

sdk::EvalInput pooled_input() { return ep::test::separable(10, 8, 2, 2, 51); }  // train/test 20 rows, F 8

sdk::EvalInput token_input() {
  sdk::EvalInput in = pooled_input();
  in.train.features = in.train.features.view({20, 2, 4});
  in.test.features = in.test.features.view({20, 2, 4});
  return in;
}

struct Case {
  std::string name;
  std::function<void(sdk::EvalInput&)> edit;
  std::string needle;  // after "<type>: "
};

// Errors shared by every evaluator (rank-independent edits).
std::vector<Case> common_cases() {
  return {
      {"one class", [](sdk::EvalInput& in) { in.num_classes = 1; },
       "num_classes is 1; a probe needs at least 2 classes"},
      {"empty train",
       [](sdk::EvalInput& in) {
         in.train.features = in.train.features.narrow(0, 0, 0);
         in.train.labels = in.train.labels.narrow(0, 0, 0);
       },
       "the train split is empty (0 rows)"},
      {"empty test",
       [](sdk::EvalInput& in) {
         in.test.features = in.test.features.narrow(0, 0, 0);
         in.test.labels = in.test.labels.narrow(0, 0, 0);
       },
       "the test split is empty (0 rows)"},
      {"undefined features", [](sdk::EvalInput& in) { in.test.features = at::Tensor(); },
       "the test split has no features (undefined tensor)"},
      {"undefined labels", [](sdk::EvalInput& in) { in.train.labels = at::Tensor(); },
       "the train split has no labels (undefined tensor)"},
      {"int32 labels", [](sdk::EvalInput& in) { in.train.labels = in.train.labels.to(at::kInt); },
       "train labels must be int64 [N]; got Int [20]"},
      {"2-D labels",
       [](sdk::EvalInput& in) {
         in.test.labels = in.test.labels.view({20, 1});
       },
       "test labels must be int64 [N]; got Long [20,1]"},
      {"label too large", [](sdk::EvalInput& in) { in.train.labels[3] = 10; },
       "train label 10 at row 3 is outside [0, 10)"},
      {"negative label", [](sdk::EvalInput& in) { in.test.labels[0] = -1; },
       "test label -1 at row 0 is outside [0, 10)"},
      {"row mismatch", [](sdk::EvalInput& in) { in.train.labels = in.train.labels.narrow(0, 0, 19); },
       "the train split has 20 feature rows but 19 labels"},
      {"integer features", [](sdk::EvalInput& in) { in.train.features = in.train.features.to(at::kLong); },
       "train features must be floating point (float32); got Long"},
      {"NaN", [](sdk::EvalInput& in) { in.test.features.select(0, 2).fill_(std::numeric_limits<float>::quiet_NaN()); },
       "test features contain a non-finite value (NaN or Inf) at row 2"},
      {"Inf", [](sdk::EvalInput& in) { in.train.features.select(0, 5).fill_(std::numeric_limits<float>::infinity()); },
       "train features contain a non-finite value (NaN or Inf) at row 5"},
  };
}

void run_cases(const std::string& type, sdk::Evaluator& e, sdk::EvalInput (*make)()) {
  for (const Case& c : common_cases()) {
    SCOPED_TRACE(type + ": " + c.name);
    sdk::EvalInput in = make();
    in.train.features = in.train.features.clone();
    in.test.features = in.test.features.clone();
    in.train.labels = in.train.labels.clone();
    in.test.labels = in.test.labels.clone();
    c.edit(in);
    expect_one_line_error([&] { e.evaluate(in); }, type + ": " + c.needle);
  }
}

}  // namespace

TEST(Validation, PooledEvaluatorsNameEveryInputProblem) {
  ep::LinearProbe lin(ep::LinearProbeOptions::from_json(ep::LinearProbeOptions::defaults()));
  ep::Knn knn(ep::KnnOptions::from_json(ep::KnnOptions::defaults()));
  ep::LowShot low(ep::LowShotOptions::from_json(ep::LowShotOptions::defaults()));
  const std::vector<std::pair<std::string, sdk::Evaluator*>> all = {
      {"linear_probe", &lin}, {"knn", &knn}, {"low_shot", &low}};
  for (const auto& entry : all) {
    const std::string& type = entry.first;
    sdk::Evaluator* e = entry.second;
    run_cases(type, *e, &pooled_input);
    sdk::EvalInput in = pooled_input();
    in.train.features = in.train.features.view({20, 2, 4});
    expect_one_line_error([&] { e->evaluate(in); },
                          type + ": expects pooled features [N,F]; got [20,2,4] for the train split");
    in = pooled_input();
    in.test.features = in.test.features.narrow(1, 0, 6);
    expect_one_line_error([&] { e->evaluate(in); },
                          type + ": train features have width 8 but test features have width 6");
  }
}

TEST(Validation, AttentiveProbeNamesEveryInputProblem) {
  ep::AttentiveProbe att(ep::AttentiveProbeOptions::from_json(ep::AttentiveProbeOptions::defaults()), 0);
  run_cases("attentive_probe", att, &token_input);
  sdk::EvalInput in = pooled_input();
  expect_one_line_error([&] { att.evaluate(in); },
                        "attentive_probe: expects token features [N,T,D]; got [20,8] for the train split");
  in = token_input();
  in.test.features = in.test.features.narrow(2, 0, 3);
  expect_one_line_error([&] { att.evaluate(in); },
                        "attentive_probe: train features have width 4 but test features have width 3");
  in = token_input();
  ep::AttentiveProbe three(ep::AttentiveProbeOptions::from_json({{"num_heads", 3},
                                                                 {"lr", 1e-3},
                                                                 {"weight_decay", 1e-3},
                                                                 {"final_weight_decay", 1e-6},
                                                                 {"epochs", 1},
                                                                 {"batch_size", 8}}),
                           0);
  expect_one_line_error([&] { three.evaluate(in); },
                        "attentive_probe: 3 heads (num_heads) do not divide the token width 4");
}

TEST(Validation, BadConfigValuesNameTheKey) {
  auto with = [](nlohmann::json d, const nlohmann::json& over) {
    d.update(over);
    return d;
  };
  const auto lin = ep::LinearProbeOptions::defaults();
  const auto low = ep::LowShotOptions::defaults();
  const auto knn = ep::KnnOptions::defaults();
  const auto att = ep::AttentiveProbeOptions::defaults();
  using F = std::function<void()>;
  const std::vector<std::pair<F, std::string>> cases = {
      {[&] {
         ep::KnnOptions::from_json(with(knn, {{"k", 0}}));
       },
       "key 'k': must be >= 1, got 0"},
      {[&] {
         ep::KnnOptions::from_json(with(knn, {{"temperature", 0.0}}));
       },
       "key 'temperature': must be a finite number > 0, got 0"},
      {[&] {
         ep::KnnOptions::from_json(with(knn, {{"temperature", -0.1}}));
       },
       "key 'temperature': must be a finite number > 0, got -0.1"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"l2_grid", nlohmann::json::array()}}));
       },
       "key 'l2_grid': expected a non-empty list of numbers, got []"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"l2_grid", {1e-4, -1.0}}}));
       },
       "key 'l2_grid': lambda = -1 is negative"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"l2_grid", {1e-4, "x"}}}));
       },
       "key 'l2_grid': expected a list of finite numbers"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"holdout", 0.6}}));
       },
       "key 'holdout': must lie in [0, 0.5], got 0.6"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"holdout", -0.1}}));
       },
       "key 'holdout': must lie in [0, 0.5], got -0.1"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"holdout", 0.0}}));
       },
       "key 'holdout': 0 leaves no rows to choose among 5 l2_grid values"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"max_iter", 0}}));
       },
       "key 'max_iter': must be >= 1, got 0"},
      {[&] {
         ep::LinearProbeOptions::from_json(with(lin, {{"select", "accuracy"}}));
       },
       "key 'select': must be 'top1' or 'nll', got 'accuracy'"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"select", "NLL"}}));
       },
       "key 'select': must be 'top1' or 'nll', got 'NLL'"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"fractions", {0.0}}}));
       },
       "key 'fractions': 0 is outside (0, 1]"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"fractions", {1.5}}}));
       },
       "key 'fractions': 1.5 is outside (0, 1]"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"fractions", nlohmann::json::array()}}));
       },
       "key 'fractions': expected a non-empty list"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"fractions", {0.01, 0.01}}}));
       },
       "key 'fractions': 0.01 and 0.01 both name the metrics *_1pct"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"fractions", {1e-5}}}));
       },
       "key 'fractions': 1e-05 rounds to 0pct"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"max_iter", -3}}));
       },
       "key 'max_iter': must be >= 1, got -3"},
      {[&] {
         ep::LowShotOptions::from_json(with(low, {{"samples", 0}}));
       },
       "key 'samples': must be >= 1, got 0"},
      {[&] {
         ep::AttentiveProbeOptions::from_json(with(att, {{"epochs", 0}}));
       },
       "key 'epochs': must be >= 1, got 0"},
      {[&] {
         ep::AttentiveProbeOptions::from_json(with(att, {{"batch_size", 0}}));
       },
       "key 'batch_size': must be >= 1, got 0"},
      {[&] {
         ep::AttentiveProbeOptions::from_json(with(att, {{"num_heads", -1}}));
       },
       "key 'num_heads': must be >= 0, got -1"},
      {[&] {
         ep::AttentiveProbeOptions::from_json(with(att, {{"lr", 0.0}}));
       },
       "key 'lr': must be a finite number > 0, got 0"},
      {[&] {
         ep::AttentiveProbeOptions::from_json(with(att, {{"weight_decay", -1.0}}));
       },
       "key 'weight_decay': must be a finite number >= 0, got -1"},
      {[&] {
         ep::AttentiveProbeOptions::from_json(with(att, {{"final_weight_decay", -1e-6}}));
       },
       "key 'final_weight_decay': must be a finite number >= 0, got -1e-06"},
  };
  for (const auto& [fn, needle] : cases) {
    SCOPED_TRACE(needle);
    expect_one_line_error(fn, needle);
  }
  // holdout 0 is fine with a single λ, and the probe then reports no holdout_top1
  const auto o = ep::LinearProbeOptions::from_json(with(lin, {{"holdout", 0}, {"l2_grid", {1e-3}}}));
  ep::LinearProbe probe(o);
  const sdk::Metrics m = probe.evaluate(pooled_input());
  EXPECT_FALSE(m.count("holdout_top1"));
  EXPECT_EQ(m.at("l2"), 1e-3);
}
