// The config readers of ijepa/sdk/config.hpp: values, and the one-line messages that name the key.
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/sdk/config.hpp"

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(SdkConfig, GetIntAtLeast) {
  const nlohmann::json cfg = {{"depth", 6}, {"zero", 0}, {"half", 1.5}, {"name", "x"}, {"neg", -1}};
  EXPECT_EQ(ijepa::sdk::get_int_at_least(cfg, "depth", 1), 6);
  EXPECT_EQ(ijepa::sdk::get_int_at_least(cfg, "zero", 0), 0);
  EXPECT_EQ(ijepa::sdk::get_int_at_least(cfg, "neg", -1), -1);
  EXPECT_EQ(error_of([&] { ijepa::sdk::get_int_at_least(cfg, "zero", 1); }), "key 'zero': must be >= 1, got 0");
  EXPECT_EQ(error_of([&] { ijepa::sdk::get_int_at_least(cfg, "half", 1); }), "key 'half': expected an integer, got 1.5");
  EXPECT_EQ(error_of([&] { ijepa::sdk::get_int_at_least(cfg, "name", 1); }),
            "key 'name': expected an integer, got \"x\"");
  EXPECT_EQ(error_of([&] { ijepa::sdk::get_int_at_least(cfg, "absent", 1); }), "missing key 'absent'");
}

TEST(SdkConfig, GetRange) {
  const nlohmann::json cfg = {{"r", {0.75, 1.5}}, {"bad", {2, 1}}, {"short", {1}}};
  EXPECT_EQ(ijepa::sdk::get_range(cfg, "r"), std::make_pair(0.75, 1.5));
  EXPECT_NE(error_of([&] { ijepa::sdk::get_range(cfg, "bad"); }).find("lo > hi"), std::string::npos);
  EXPECT_NE(error_of([&] { ijepa::sdk::get_range(cfg, "short"); }).find("expected [lo, hi]"), std::string::npos);
}
