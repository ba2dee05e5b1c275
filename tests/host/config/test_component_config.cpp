// Component config validation and defaults (Registry::resolve / validate_keys in host/src/hosting/registry.cpp):
// unknown keys and wrong types are refused with a message naming the key, the component and the plugin;
// user keys merge over the plugin's defaults. Also checked once through the real good fixture plugin.
#include <string>

#include <gtest/gtest.h>

#include "host/hosting/fixture_plugins.hpp"
#include "ijepa/host/hosting/plugin_loader.hpp"
#include "ijepa/host/hosting/registry.hpp"

namespace {

using ijepa::host::ConfigError;
using ijepa::host::Kind;
using ijepa::host::Registry;
using nlohmann::json;

struct NullMasker final : ijepa::sdk::Masker {
  ijepa::sdk::MaskSet sample(std::int64_t, std::uint64_t) override { return {}; }
  const void* capability(std::string_view) const noexcept override { return nullptr; }
};

class ComponentConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    reg.begin(ijepa::host::Origin{"org.ijepa.test.cfg", "0.1.0", "/p/ijepa_cfg.so", nullptr});
    ijepa::sdk::MaskerEntry e;
    e.type = "blocks";
    e.defaults = {{"ratio", 0.5},    {"count", 4},       {"enabled", true},
                  {"name", "blk"},   {"sizes", {1, 2}},  {"window", {{"lo", 0.1}, {"hi", 0.9}}},
                  {"extra", json::object()}, {"anything", nullptr}};
    e.doc = {{"ratio", "r"}, {"count", "c"},  {"enabled", "e"},  {"name", "n"},
             {"sizes", "s"}, {"window", "w"}, {"extra", "free"}, {"anything", "any type"}};
    e.make = [this](const json& cfg, const ijepa::sdk::BuildContext&) {
      seen = cfg;
      return std::make_shared<NullMasker>();
    };
    reg.add_masker(std::move(e));
    reg.commit();
  }

  // The ConfigError message for cfg, or "" if accepted.
  std::string error_of(const json& cfg) {
    try {
      reg.resolve(Kind::masker, cfg, "components.masker");
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  Registry reg;
  json seen;
};

TEST_F(ComponentConfig, UnknownKeyNamesTheKeyTheComponentAndThePlugin) {
  const std::string w = error_of({{"type", "blocks"}, {"ratoi", 0.3}});
  EXPECT_EQ(w, "unknown key 'components.masker.ratoi' for masker/blocks (plugin org.ijepa.test.cfg) (did you mean "
               "'components.masker.ratio'?)");
}

TEST_F(ComponentConfig, UnknownNestedKeyNamesTheFullPath) {
  const std::string w = error_of({{"type", "blocks"}, {"window", {{"lo", 0.2}, {"mid", 0.5}}}});
  EXPECT_EQ(w, "unknown key 'components.masker.window.mid' for masker/blocks (plugin org.ijepa.test.cfg)");
}

TEST_F(ComponentConfig, WrongTypesAreRefused) {
  struct Case {
    json cfg;
    std::string expect;
  };
  const std::string of = " of masker/blocks (plugin org.ijepa.test.cfg): ";
  for (const Case& c : std::vector<Case>{
           {{{"count", 2.5}}, "key 'components.masker.count'" + of + "expected number (integer), got 2.5"},
           {{{"count", "4"}}, "key 'components.masker.count'" + of + "expected number (integer), got \"4\""},
           {{{"ratio", "half"}}, "key 'components.masker.ratio'" + of + "expected number, got \"half\""},
           {{{"enabled", 1}}, "key 'components.masker.enabled'" + of + "expected boolean, got 1"},
           {{{"name", 3}}, "key 'components.masker.name'" + of + "expected string, got 3"},
           {{{"sizes", 3}}, "key 'components.masker.sizes'" + of + "expected array, got 3"},
           {{{"window", {1, 2}}}, "key 'components.masker.window'" + of + "expected object, got [1,2]"},
           {{{"window", {{"lo", "low"}}}}, "key 'components.masker.window.lo'" + of + "expected number, got \"low\""},
       }) {
    json cfg = c.cfg;
    cfg["type"] = "blocks";
    EXPECT_EQ(error_of(cfg), c.expect) << cfg.dump();
  }
}

TEST_F(ComponentConfig, NumbersWidenButIntegersStayIntegers) {
  EXPECT_EQ(error_of({{"type", "blocks"}, {"ratio", 1}}), "") << "an integer is a valid float";
  EXPECT_EQ(error_of({{"type", "blocks"}, {"count", 7}}), "");
  EXPECT_EQ(error_of({{"type", "blocks"}, {"count", -1}}), "");
}

TEST_F(ComponentConfig, DefaultsMergeUnderUserKeys) {
  const json merged = reg.resolve(Kind::masker, {{"type", "blocks"}, {"ratio", 0.25}, {"window", {{"hi", 0.8}}}},
                                  "components.masker");
  EXPECT_EQ(merged["type"], "blocks");
  EXPECT_EQ(merged["ratio"], 0.25);
  EXPECT_EQ(merged["count"], 4);
  EXPECT_EQ(merged["enabled"], true);
  EXPECT_EQ(merged["name"], "blk");
  EXPECT_EQ(merged["sizes"], json({1, 2}));
  EXPECT_EQ(merged["window"], json({{"lo", 0.1}, {"hi", 0.8}})) << "objects merge key by key (RFC 7396)";
  EXPECT_EQ(merged.size(), 9u);
}

TEST_F(ComponentConfig, ArraysAreReplacedNotMerged) {
  const json merged = reg.resolve(Kind::masker, {{"type", "blocks"}, {"sizes", {5}}}, "components.masker");
  EXPECT_EQ(merged["sizes"], json({5}));
}

TEST_F(ComponentConfig, NullRestoresTheDefault) {
  const json merged = reg.resolve(Kind::masker, {{"type", "blocks"}, {"ratio", nullptr}, {"window", nullptr}},
                                  "components.masker");
  EXPECT_EQ(merged["ratio"], 0.5);
  EXPECT_EQ(merged["window"], json({{"lo", 0.1}, {"hi", 0.9}}));
}

TEST_F(ComponentConfig, ExtraIsFreeFormAndANullDefaultTakesAnyType) {
  EXPECT_EQ(error_of({{"type", "blocks"}, {"extra", {{"whatever", {1, "x"}}}}}), "");
  EXPECT_EQ(error_of({{"type", "blocks"}, {"anything", "text"}}), "");
  EXPECT_EQ(error_of({{"type", "blocks"}, {"anything", {{"k", 1}}}}), "");
}

TEST_F(ComponentConfig, TypeIsRequiredAndMustBeKnown) {
  EXPECT_EQ(error_of({{"ratio", 0.5}}),
            "components.masker.type: missing (a string naming the masker plugin type)");
  EXPECT_EQ(error_of({{"type", 3}}), "components.masker.type: missing (a string naming the masker plugin type)");
  EXPECT_EQ(error_of({{"type", "grid"}}),
            "components.masker.type: no masker plugin 'grid' is loaded (available: blocks"
            "; a plugin of your own: --plugin-dir DIR, and `ijepa plugins --plugin-dir DIR` says why one does not "
            "load)");
  EXPECT_EQ(error_of(json::array()), "components.masker: expected an object with a \"type\" key, got []");
  try {
    reg.resolve(Kind::encoder, {{"type", "vit"}}, "components.encoder");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "components.encoder.type: no encoder plugin 'vit' is loaded (available: none"
                                     "; a plugin of your own: --plugin-dir DIR, and `ijepa plugins --plugin-dir DIR` "
                                     "says why one does not load)");
  }
}

TEST_F(ComponentConfig, TheFactoryReceivesTheMergedConfigWithoutType) {
  auto m = reg.make_masker({{"type", "blocks"}, {"count", 9}}, {}, "components.masker");
  ASSERT_TRUE(m);
  EXPECT_FALSE(seen.contains("type"));
  EXPECT_EQ(seen["count"], 9);
  EXPECT_EQ(seen["ratio"], 0.5);
  EXPECT_EQ(m.type, "masker/blocks");
  EXPECT_EQ(m.plugin_id, "org.ijepa.test.cfg");
}

TEST_F(ComponentConfig, InvalidConfigNeverReachesTheFactory) {
  EXPECT_THROW(reg.make_masker({{"type", "blocks"}, {"bogus", 1}}, {}, "components.masker"), ConfigError);
  EXPECT_TRUE(seen.is_null());
}

TEST(ValidateKeys, ExtraKeyOutsideTopLevelAndTypeOnlyAtTopLevel) {
  const json defaults = {{"inner", {{"a", 1}}}};
  EXPECT_NO_THROW(ijepa::host::validate_keys(defaults, {{"type", "x"}, {"inner", {{"a", 2}}}}, "c", "P"));
  try {
    ijepa::host::validate_keys(defaults, {{"inner", {{"type", "x"}}}}, "c", "P");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "unknown key 'c.inner.type' for P");
  }
  try {
    ijepa::host::validate_keys(defaults, 5, "c", "P");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "c: expected a JSON object, got number");
  }
}

// ---- the same through a real plugin -------------------------------------------------------------------------

TEST(ComponentConfigFromPlugin, TheGoodFixtureDefaultsAndErrors) {
  ijepa::host::PluginHost h;
  ASSERT_TRUE(h.load_file(ijepa::test::fixture_file("good"), false));
  const auto& r = h.registry();
  const json merged = r.resolve(Kind::loss, {{"type", "fixture_good"}, {"scale", 3}}, "components.loss");
  EXPECT_EQ(merged["scale"], 3);
  EXPECT_EQ(merged["repeat"], 2);
  EXPECT_EQ(merged["label"], "fixture");
  EXPECT_EQ(merged["window"], json({{"lo", 0.25}, {"hi", 0.75}}));
  try {
    r.resolve(Kind::loss, {{"type", "fixture_good"}, {"scael", 3}}, "components.loss");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown key 'components.loss.scael' for loss/fixture_good (plugin org.ijepa.test.good) (did you "
              "mean 'components.loss.scale'?)");
  }
  try {
    r.make_loss({{"type", "fixture_good"}, {"repeat", true}}, {}, "components.loss");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "key 'components.loss.repeat' of loss/fixture_good (plugin org.ijepa.test.good): "
                                     "expected number (integer), got true");
  }
}

}  // namespace
