// Feature extraction and evaluator entries (no evaluator plugin needed).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <ATen/ATen.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/transforms.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/eval/features.hpp"
#include "host/run/test_util.hpp"

using namespace ijepa;
using namespace ijepa::host;

namespace {

Component<sdk::Encoder> tiny_encoder(std::int64_t depth = 2) {
  nlohmann::json exp = test::tiny_experiment();
  exp["components"]["encoder"]["depth"] = depth;
  auto& reg = test::builtin_plugins().registry();
  nlohmann::json resolved = resolve_experiment(test::layered(exp), {}, reg, "test");
  at::manual_seed(1);
  return reg.make_encoder(resolved["components"]["encoder"], experiment_context(resolved), "components.encoder");
}

}  // namespace

TEST(SubsetIndices, DeterministicSortedAndComplete) {
  EXPECT_EQ(subset_indices(5, 0, 1), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(subset_indices(5, 9, 1).size(), 5u);
  const auto a = subset_indices(1000, 100, 7), b = subset_indices(1000, 100, 7), c = subset_indices(1000, 100, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 100u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end());
  // A class-sorted folder (10 classes x 100) must not yield one class only.
  std::set<std::int64_t> classes;
  for (auto i : a) classes.insert(i / 100);
  EXPECT_GE(classes.size(), 8u);
}

TEST(Features, PooledLast4AndTokensMatchTheEncoder) {
  auto enc = tiny_encoder(2);
  auto data = open_synthetic(10, 32, 3, 5);
  ExtractOptions o;
  o.image_size = 32;
  o.batch_size = 4;  // several batches
  Features last = extract_features(enc, *data, o, at::kCPU);
  o.kind = FeatureKind::tokens;
  Features tok = extract_features(enc, *data, o, at::kCPU);
  o.kind = FeatureKind::last4;
  Features l4 = extract_features(enc, *data, o, at::kCPU);
  ASSERT_EQ(last.features.sizes(), (std::vector<std::int64_t>{10, 32}));
  ASSERT_EQ(tok.features.sizes(), (std::vector<std::int64_t>{10, 64, 32}));
  ASSERT_EQ(l4.features.sizes(), (std::vector<std::int64_t>{10, 64}));  // depth 2: the last min(4, depth) blocks
  at::Tensor x = at::stack({eval_transform(data->get(3).pixels, 32), eval_transform(data->get(7).pixels, 32)});
  at::NoGradGuard ng;
  at::Tensor ref = enc->encode(x, nullptr);
  EXPECT_TRUE(at::allclose(last.features.index({at::tensor({3, 7})}), ref.mean(1), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(tok.features[3], ref[0], 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(l4.features.narrow(1, 32, 32), last.features, 1e-5, 1e-6));  // the last block is "last"
  EXPECT_EQ(last.labels[4].item<std::int64_t>(), 4 % 3);
  EXPECT_EQ(last.indices[9].item<std::int64_t>(), 9);
}

TEST(Features, TransformNoneNeedsExactSizeAndLabelsWhenRequired) {
  auto enc = tiny_encoder();
  ExtractOptions o;
  o.image_size = 32;
  o.resize_crop = false;
  try {
    extract_features(enc, *open_synthetic(4, 40, 2, 1), o, at::kCPU);
    FAIL() << "a 40 px image passed --transform none at 32 px";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("40x40"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_EQ(extract_features(enc, *open_synthetic(4, 32, 2, 1), o, at::kCPU).features.size(0), 4);
  o.require_labels = true;
  EXPECT_THROW(extract_features(enc, *open_synthetic(4, 32, 0, 1), o, at::kCPU), DataError);
}

// Extraction puts the encoder in eval mode and back in the mode it came in: the trainer keeps its target encoder in
// training mode, and an in-run evaluation that left it in eval mode changed how a plugin encoder with dropout
// trained from then on.
TEST(Features, TheEncoderComesBackInTheModeItWasIn) {
  auto enc = tiny_encoder();
  ExtractOptions o;
  o.image_size = 32;
  for (const bool training : {true, false}) {
    enc->train(training);
    (void)extract_features(enc, *open_synthetic(4, 32, 2, 1), o, at::kCPU);
    EXPECT_EQ(enc->is_training(), training);
  }
}

// An encoder that throws while features are extracted is named, as in training: a std::exception said nothing of the
// plugin, and a non-std exception ended the process.
TEST(Features, AnEncoderThatThrowsIsNamed) {
  struct Throwing final : sdk::Encoder {
    bool non_std = false, half_rows = false;
    at::Tensor encode(const at::Tensor& x, const std::vector<at::Tensor>*) override {
      if (half_rows) return at::zeros({x.size(0) / 2, 64, 8});  // a probe was blamed for these
      if (non_std) throw 42;
      throw std::runtime_error("bad encode\nsecond line");
    }
    std::int64_t embed_dim() const override { return 8; }
    std::int64_t num_heads() const override { return 1; }
    std::int64_t depth() const override { return 1; }
    sdk::PatchGrid grid() const override { return {8, 8}; }
    const void* capability(std::string_view) const noexcept override { return nullptr; }
  };
  auto t = std::make_shared<Throwing>();
  const Component<sdk::Encoder> enc{t, "org.example.bad", "encoder/throwing"};
  ExtractOptions o;
  o.image_size = 32;
  for (const bool non_std : {false, true}) {
    t->non_std = non_std;
    try {
      (void)extract_features(enc, *open_synthetic(4, 32, 2, 1), o, at::kCPU);
      ADD_FAILURE() << "no error";
    } catch (const PluginError& e) {
      EXPECT_EQ(std::string(e.what()), non_std ? "plugin org.example.bad: encoder/throwing: unknown exception"
                                               : "plugin org.example.bad: encoder/throwing: bad encode / second line");
    }
    EXPECT_TRUE(t->is_training()) << "back in its mode after the error too";
  }
  t->half_rows = true;
  try {
    (void)extract_features(enc, *open_synthetic(4, 32, 2, 1), o, at::kCPU);
    ADD_FAILURE() << "no error";
  } catch (const PluginError& e) {
    EXPECT_EQ(std::string(e.what()), "plugin org.example.bad: encoder/throwing: encode(images) returned shape [2, 64, "
                                     "8], not [4, 64, 8] [B, N, D]");
  }
}

// A misspelt host key of an evaluator entry (every_step) reaches the plugin's key check, which now guesses among the
// host keys too.
TEST(EvaluatorEntry, AMisspeltHostKeyGetsADidYouMean) {
  try {
    nlohmann::json exp = test::tiny_experiment();
    exp["components"]["evaluators"] = nlohmann::json::array({{{"type", "knn"}, {"every_step", 2}}});
    (void)resolve_experiment(test::layered(exp), {}, test::builtin_plugins().registry(), "test");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'components.evaluators.0.every_step' for evaluator/knn"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("(did you mean 'components.evaluators.0.every_steps'?)"), std::string::npos)
        << e.what();
  }
}

TEST(EvaluatorEntry, HostKeysAreSplitAndChecked) {
  auto [host_keys, plugin] = split_evaluator_entry({{"type", "knn"}, {"k", 5}, {"every_steps", 10}}, "w");
  EXPECT_EQ(host_keys["every_steps"], 10);
  EXPECT_EQ(host_keys["features"], "last");
  EXPECT_EQ(plugin, (nlohmann::json{{"type", "knn"}, {"k", 5}}));
  auto msg = [](const nlohmann::json& e) {
    try {
      parse_evaluator(e, "components.evaluators.0");
    } catch (const ConfigError& x) {
      return std::string(x.what());
    }
    return std::string();
  };
  EXPECT_NE(msg({{"type", "knn"}, {"features", "first"}}).find("components.evaluators.0.features"), std::string::npos);
  EXPECT_NE(msg({{"type", "knn"}, {"encoder", "student"}}).find("target or context"), std::string::npos);
  EXPECT_NE(msg({{"type", "knn"}, {"every_steps", -1}}).find("every_steps"), std::string::npos);
  EXPECT_NE(msg({{"type", "knn"}, {"at_end", "yes"}}).find("at_end"), std::string::npos);
  EXPECT_NE(msg({{"type", "knn"}, {"transform", "crop"}}).find("eval or none"), std::string::npos);
}
