// The built plugin ijepa_eval_probes.so, loaded through the host: registration, docs, factories, errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "eval_test_util.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/sdk/capabilities.hpp"

using ijepa::host::ConfigError;
using ijepa::host::Kind;
using ijepa::host::PluginError;
using ijepa::host::PluginHost;
namespace sdk = ijepa::sdk;
namespace ep = ijepa::plugins::eval_probes;

namespace {

PluginHost& host() {
  static PluginHost* h = [] {
    auto* p = new PluginHost();  // never destroyed: plugins stay loaded for the process
    p->load_file(ijepa::host::builtin_plugin_dir() / "ijepa_eval_probes.so", /*allow_insecure=*/false);
    return p;
  }();
  return *h;
}

const std::vector<std::string> kTypes = {"linear_probe", "knn", "low_shot", "attentive_probe"};

sdk::BuildContext context() {
  sdk::BuildContext ctx;
  ctx.encoder_dim = 8;
  ctx.encoder_heads = 2;
  ctx.seed = 3;
  return ctx;
}

}  // namespace

TEST(EvalProbesPlugin, RegistersFourEvaluatorsWithEveryKeyDocumented) {
  ASSERT_TRUE(host().rejected().empty()) << host().rejected().front().path << ": " << host().rejected().front().reason;
  for (const auto& type : kTypes) {
    const auto* e = host().registry().find(Kind::evaluator, type);
    ASSERT_NE(e, nullptr) << type;
    EXPECT_EQ(e->origin.plugin_id, "org.ijepa.eval.probes");
    EXPECT_EQ(e->origin.plugin_version, "0.1.0");
    EXPECT_FALSE(e->summary.empty());
    ASSERT_EQ(e->defaults.size(), e->doc.size()) << type;
    for (auto it = e->defaults.begin(); it != e->defaults.end(); ++it) {
      ASSERT_TRUE(e->doc.contains(it.key())) << type << "." << it.key();
      EXPECT_FALSE(e->doc[it.key()].get<std::string>().empty());
    }
  }
  const auto* lin = host().registry().find(Kind::evaluator, "linear_probe");
  EXPECT_EQ(lin->defaults["batchnorm"], true);
  EXPECT_EQ(lin->defaults["l2_grid"], nlohmann::json({1e-6, 1e-5, 1e-4, 1e-3, 1e-2}));
  EXPECT_EQ(lin->defaults["holdout"], 0.1);
  EXPECT_EQ(lin->defaults["max_iter"], 3000);
  EXPECT_NE(lin->doc["batchnorm"].get<std::string>().find("training"), std::string::npos);
  EXPECT_EQ(host().registry().find(Kind::evaluator, "knn")->defaults["k"], 20);
  EXPECT_EQ(host().registry().find(Kind::evaluator, "low_shot")->defaults["fractions"], nlohmann::json({0.01, 0.1}));
  EXPECT_EQ(host().registry().find(Kind::evaluator, "attentive_probe")->defaults["epochs"], 20);
}

TEST(EvalProbesPlugin, EachTypeBuildsAndEvaluatesThroughTheRegistry) {
  const sdk::EvalInput pooled = ep::test::separable(6, 8, 10, 5, 61);
  sdk::EvalInput tokens = pooled;
  tokens.train.features = pooled.train.features.view({60, 2, 4});
  tokens.test.features = pooled.test.features.view({30, 2, 4});
  const std::map<std::string, std::vector<std::string>> keys = {
      {"linear_probe",
       {"converged", "fit_grad", "fit_iters", "holdout_nll", "holdout_top1", "l2", "path_capped", "test_n", "top1",
        "top5", "train_n"}},
      {"knn", {"k", "top1", "top5"}},
      {"low_shot", {"converged_10pct", "converged_1pct", "l2_10pct", "l2_1pct", "n_10pct", "n_1pct", "top1_10pct",
                    "top1_1pct", "top5_10pct", "top5_1pct"}},
      {"attentive_probe", {"final_train_loss", "top1", "top5"}}};
  for (const auto& type : kTypes) {
    SCOPED_TRACE(type);
    nlohmann::json cfg = {{"type", type}};
    if (type == "attentive_probe") cfg["epochs"] = 2;
    const auto e = host().registry().make_evaluator(cfg, context(), "components.evaluators.0");
    const bool wants = e.call([](sdk::Evaluator& x) { return x.wants_tokens(); });
    EXPECT_EQ(wants, type == "attentive_probe");
    EXPECT_EQ(e->capability("ijepa.layer_outputs/1"), nullptr);
    const sdk::Metrics m = e.call([&](sdk::Evaluator& x) { return x.evaluate(wants ? tokens : pooled); });
    std::vector<std::string> got;
    for (const auto& [k, v] : m) got.push_back(k);
    EXPECT_EQ(got, keys.at(type));
    const std::string top1 = type == "low_shot" ? "top1_10pct" : "top1";
    EXPECT_GE(m.at(top1), 0.0);
    EXPECT_LE(m.at(top1), 100.0);
  }
}

TEST(EvalProbesPlugin, TheClosedFormProbesTakeDeviceFeaturesTheAttentiveProbeDoesNot) {
  for (const auto& type : kTypes) {
    SCOPED_TRACE(type);
    nlohmann::json cfg = {{"type", type}};
    const auto e = host().registry().make_evaluator(cfg, context(), "components.evaluators.0");
    EXPECT_EQ(e->capability(sdk::kDeviceFeaturesId) != nullptr, type != "attentive_probe");
    EXPECT_EQ(e->capability("ijepa.device_features/2"), nullptr);
  }
}

TEST(EvalProbesPlugin, ErrorsAreOneLineThroughTheHost) {
  try {
    host().registry().make_evaluator({{"type", "knn"}, {"k", 0}}, context(), "components.evaluators.1");
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("components.evaluators.1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("key 'k': must be >= 1, got 0"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_THROW(host().registry().make_evaluator({{"type", "knn"}, {"neighbours", 3}}, context(), "e"), ConfigError);
  EXPECT_THROW(host().registry().make_evaluator({{"type", "knn"}, {"k", 2.5}}, context(), "e"), ConfigError);

  const auto e = host().registry().make_evaluator({{"type", "linear_probe"}}, context(), "components.evaluators.0");
  sdk::EvalInput in = ep::test::separable(3, 4, 5, 5, 62);
  in.num_classes = 1;
  try {
    e.call([&](sdk::Evaluator& x) { return x.evaluate(in); });
    ADD_FAILURE() << "no PluginError";
  } catch (const PluginError& err) {
    const std::string msg = err.what();
    EXPECT_NE(msg.find("org.ijepa.eval.probes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("num_classes is 1; a probe needs at least 2 classes"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // the attentive probe takes its heads from the encoder: 2 heads do not divide a token width of 5
  const auto att = host().registry().make_evaluator({{"type", "attentive_probe"}, {"epochs", 1}}, context(), "e");
  sdk::EvalInput t = ep::test::separable(3, 10, 5, 5, 63);
  t.train.features = t.train.features.view({15, 2, 5});
  t.test.features = t.test.features.view({15, 2, 5});
  EXPECT_THROW(att.call([&](sdk::Evaluator& x) { return x.evaluate(t); }), PluginError);
}
