// pin_to_library (host/include/ijepa/host/hosting/registry.hpp): the returned pointer keeps the library alive, and the object
// dies before the library it came from.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ijepa/host/hosting/registry.hpp"

namespace {

using ijepa::host::pin_to_library;

struct Events {
  std::vector<std::string> log;
};

// Stands in for a boost::dll::shared_library: records when it is "unloaded".
std::shared_ptr<void> fake_library(Events& ev) {
  return std::shared_ptr<void>(new int(0), [&ev](void* p) {
    ev.log.push_back("library unloaded");
    delete static_cast<int*>(p);
  });
}

struct Widget {
  explicit Widget(Events* e) : ev(e) {}
  Events* ev;
  int value = 7;
  ~Widget() { ev->log.push_back("object destroyed"); }
};

TEST(PinToLibrary, KeepsTheLibraryAliveWhileAnyCopyLives) {
  Events ev;
  std::weak_ptr<void> lib_seen;
  std::shared_ptr<Widget> pinned;
  {
    auto lib = fake_library(ev);
    lib_seen = lib;
    pinned = pin_to_library(std::make_shared<Widget>(&ev), lib);
  }
  EXPECT_FALSE(lib_seen.expired()) << "the pinned object holds the library";
  EXPECT_EQ(pinned->value, 7);
  auto copy = pinned;
  pinned.reset();
  EXPECT_TRUE(ev.log.empty());
  EXPECT_FALSE(lib_seen.expired());
  copy.reset();
  EXPECT_TRUE(lib_seen.expired());
  EXPECT_EQ(ev.log, (std::vector<std::string>{"object destroyed", "library unloaded"}))
      << "the object must die before its library";
}

TEST(PinToLibrary, AliasesTheSameObject) {
  Events ev;
  auto obj = std::make_shared<Widget>(&ev);
  Widget* raw = obj.get();
  auto pinned = pin_to_library(obj, fake_library(ev));
  EXPECT_EQ(pinned.get(), raw);
  obj.reset();
  EXPECT_EQ(pinned->value, 7);
  pinned.reset();
  EXPECT_EQ(ev.log.size(), 2u);
}

TEST(PinToLibrary, WithoutALibraryReturnsTheObjectUnchanged) {
  Events ev;
  auto obj = std::make_shared<Widget>(&ev);
  auto same = pin_to_library(obj, nullptr);
  EXPECT_EQ(same, obj);
  EXPECT_EQ(same.use_count(), 2);
}

TEST(PinToLibrary, ComponentsFromTheRegistryArePinnedToTheirOrigin) {
  Events ev;
  std::weak_ptr<void> lib_seen;
  ijepa::host::Component<ijepa::sdk::Loss> loss;
  {
    ijepa::host::Registry reg;
    auto lib = fake_library(ev);
    lib_seen = lib;
    reg.begin(ijepa::host::Origin{"org.ijepa.test.inproc", "0.1.0", "/nowhere/ijepa_inproc.so", lib});
    ijepa::sdk::LossEntry e;
    e.type = "inproc";
    e.make = [](const nlohmann::json&, const ijepa::sdk::BuildContext&) -> std::shared_ptr<ijepa::sdk::Loss> {
      struct L final : ijepa::sdk::Loss {
        ijepa::sdk::LossOutput compute(const ijepa::sdk::LossInput&) override { return {}; }
        bool needs_target_encoder() const override { return false; }
        std::int64_t prediction_dim(const ijepa::sdk::BuildContext&) const override { return 3; }
        const void* capability(std::string_view) const noexcept override { return nullptr; }
      };
      return std::make_shared<L>();
    };
    reg.add_loss(std::move(e));
    reg.commit();
    loss = reg.make_loss({{"type", "inproc"}}, ijepa::sdk::BuildContext{}, "components.loss");
  }  // registry and the local library reference are gone
  EXPECT_FALSE(lib_seen.expired());
  EXPECT_EQ(loss->prediction_dim(ijepa::sdk::BuildContext{}), 3);
  loss = {};
  EXPECT_TRUE(lib_seen.expired());
  EXPECT_EQ(ev.log, (std::vector<std::string>{"library unloaded"}));
}

}  // namespace
