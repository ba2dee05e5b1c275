// Registry (host/src/hosting/registry.cpp): registration scopes, duplicates, malformed entries, listing.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "ijepa/host/hosting/registry.hpp"

namespace {

using ijepa::host::Kind;
using ijepa::host::Origin;
using ijepa::host::Registry;

struct NullMasker final : ijepa::sdk::Masker {
  ijepa::sdk::MaskSet sample(std::int64_t, std::uint64_t) override { return {}; }
  const void* capability(std::string_view) const noexcept override { return nullptr; }
};

ijepa::sdk::MaskerEntry masker(const std::string& type) {
  ijepa::sdk::MaskerEntry e;
  e.type = type;
  e.summary = "a masker";
  e.defaults = {{"ratio", 0.5}};
  e.doc = {{"ratio", "a ratio"}};
  e.make = [](const nlohmann::json&, const ijepa::sdk::BuildContext&) { return std::make_shared<NullMasker>(); };
  return e;
}

Origin origin(const std::string& id) { return Origin{id, "0.1.0", "/plugins/ijepa_" + id + ".so", nullptr}; }

std::string add_error(Registry& r, ijepa::sdk::MaskerEntry e) {
  try {
    r.add_masker(std::move(e));
  } catch (const std::runtime_error& ex) {
    EXPECT_EQ(r.scope_error(), ex.what());
    return ex.what();
  }
  return "";
}

TEST(Registry, RegistrationOutsideAScopeIsRefused) {
  Registry r;
  EXPECT_EQ(add_error(r, masker("a")), "registration outside ijepa_plugin_register");
}

TEST(Registry, CommittedEntriesAreAttributedToTheirPlugin) {
  Registry r;
  r.begin(origin("org.a"));
  r.add_masker(masker("m1"));
  EXPECT_EQ(r.find(Kind::masker, "m1"), nullptr) << "pending until commit";
  r.commit();
  const auto* e = r.find(Kind::masker, "m1");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->origin.plugin_id, "org.a");
  EXPECT_EQ(e->summary, "a masker");
  EXPECT_EQ(r.find(Kind::encoder, "m1"), nullptr) << "kinds are separate namespaces";
  EXPECT_EQ(r.types(Kind::masker), std::vector<std::string>{"m1"});
}

TEST(Registry, AbortDropsEverythingOfThatPlugin) {
  Registry r;
  r.begin(origin("org.a"));
  r.add_masker(masker("m1"));
  r.add_masker(masker("m2"));
  r.abort();
  EXPECT_TRUE(r.list().empty());
  EXPECT_EQ(add_error(r, masker("m3")), "registration outside ijepa_plugin_register");
}

TEST(Registry, DuplicateKindAndTypeNamesTheFirstOwner) {
  Registry r;
  r.begin(origin("org.a"));
  r.add_masker(masker("m"));
  r.commit();
  r.begin(origin("org.b"));
  const std::string w = add_error(r, masker("m"));
  EXPECT_NE(w.find("duplicate masker/m: already registered by org.a (/plugins/ijepa_org.a.so)"), std::string::npos) << w;
  r.abort();
  EXPECT_EQ(r.find(Kind::masker, "m")->origin.plugin_id, "org.a");
}

TEST(Registry, DuplicateWithinOnePlugin) {
  Registry r;
  r.begin(origin("org.a"));
  r.add_masker(masker("m"));
  EXPECT_EQ(add_error(r, masker("m")), "duplicate masker/m within org.a");
}

TEST(Registry, SameTypeUnderAnotherKindIsFine) {
  Registry r;
  r.begin(origin("org.a"));
  r.add_masker(masker("same"));
  ijepa::sdk::LossEntry l;
  l.type = "same";
  l.make = [](const nlohmann::json&, const ijepa::sdk::BuildContext&) { return std::shared_ptr<ijepa::sdk::Loss>(); };
  EXPECT_NO_THROW(r.add_loss(std::move(l)));
  r.commit();
  EXPECT_EQ(r.list().size(), 2u);
  EXPECT_EQ(r.list()[0].kind, Kind::masker) << "list() is sorted by kind";
}

TEST(Registry, MalformedEntriesAreRefused) {
  Registry r;
  r.begin(origin("org.a"));
  EXPECT_EQ(add_error(r, masker("")), "empty type name for a masker");
  auto no_make = masker("x");
  no_make.make = nullptr;
  EXPECT_EQ(add_error(r, no_make), "masker/x: no factory");
  auto bad_defaults = masker("x");
  bad_defaults.defaults = nlohmann::json::array({1});
  EXPECT_EQ(add_error(r, bad_defaults), "masker/x: defaults must be a JSON object");
  auto type_key = masker("x");
  type_key.defaults["type"] = "y";
  type_key.doc["type"] = "y";
  EXPECT_EQ(add_error(r, type_key), "masker/x: defaults must not contain 'type'");
  auto undocumented = masker("x");
  undocumented.defaults["extra_key"] = 1;
  EXPECT_EQ(add_error(r, undocumented), "masker/x: key 'extra_key' has no documentation");
  // A documented key without a default was listed by `ijepa describe` and then refused as unknown in every config;
  // a type with a newline split the `ijepa plugins` table.
  auto doc_only = masker("x");
  doc_only.doc["beta"] = "a key with no default";
  EXPECT_EQ(add_error(r, doc_only),
            "masker/x: doc names key 'beta', which has no default (every config key needs one)");
  const std::string only = ": use letters, digits, '_', '-' or '.' only";
  EXPECT_EQ(add_error(r, masker("two\nlines")), "masker type \"two\\nlines\"" + only);
  EXPECT_EQ(add_error(r, masker("with space")), "masker type \"with space\"" + only);
  auto null_defaults = masker("x");
  null_defaults.defaults = nullptr;
  null_defaults.doc = nullptr;
  EXPECT_NO_THROW(r.add_masker(null_defaults)) << "null defaults mean no keys";
}

TEST(Registry, FactoryReturningNullIsAPluginError) {
  Registry r;
  r.begin(origin("org.a"));
  auto e = masker("m");
  e.make = [](const nlohmann::json&, const ijepa::sdk::BuildContext&) { return std::shared_ptr<ijepa::sdk::Masker>(); };
  r.add_masker(std::move(e));
  r.commit();
  try {
    r.make_masker({{"type", "m"}}, {}, "components.masker");
    FAIL();
  } catch (const ijepa::host::PluginError& ex) {
    EXPECT_EQ(ex.plugin_id(), "org.a");
    EXPECT_NE(std::string(ex.what()).find("factory returned null"), std::string::npos);
  }
}

TEST(Registry, KindNamesRoundTrip) {
  for (Kind k : {Kind::masker, Kind::encoder, Kind::predictor, Kind::loss, Kind::evaluator}) {
    EXPECT_EQ(ijepa::host::parse_kind(ijepa::host::kind_name(k)), k);
  }
  EXPECT_THROW(ijepa::host::parse_kind("optimizer"), std::invalid_argument);
}

TEST(Registry, ComponentCallTagsUnknownExceptions) {
  ijepa::host::Component<NullMasker> c{std::make_shared<NullMasker>(), "org.a", "masker/m"};
  try {
    c.call([](NullMasker&) -> int { throw 42; });
    FAIL();
  } catch (const ijepa::host::PluginError& e) {
    EXPECT_EQ(e.plugin_id(), "org.a");
    EXPECT_EQ(std::string(e.what()), "plugin org.a: masker/m: unknown exception");
  }
  EXPECT_EQ(c.call([](NullMasker& m) { return m.capability("x") == nullptr; }), true);
}

}  // namespace
