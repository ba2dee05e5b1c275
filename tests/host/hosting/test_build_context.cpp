// build_context / with_encoder (host/include/ijepa/host/hosting/build_context.hpp): the one way a BuildContext is made.
#include <gtest/gtest.h>

#include "host/run/test_util.hpp"
#include "ijepa/host/hosting/build_context.hpp"

using namespace ijepa::host;

TEST(BuildContextFactory, SizesGridSeedAndServices) {
  const ijepa::sdk::BuildContext c = build_context(224, 14, 7);
  EXPECT_EQ(c.image_size, 224);
  EXPECT_EQ(c.patch_size, 14);
  EXPECT_EQ(c.grid.h, 16);
  EXPECT_EQ(c.grid.w, 16);
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.in_chans, 3);
  EXPECT_NE(c.host, nullptr);
  EXPECT_EQ(c.encoder_dim, 0) << "no encoder facts until with_encoder";
}

TEST(BuildContextFactory, RefusesSizesThatDoNotTile) {
  EXPECT_THROW(build_context(32, 5, 0), std::invalid_argument);
  EXPECT_THROW(build_context(0, 4, 0), std::invalid_argument);
  EXPECT_THROW(build_context(32, -4, 0), std::invalid_argument);
}

TEST(BuildContextFactory, WithEncoderAddsItsWidthHeadsAndDepth) {
  const auto& reg = ijepa::test::builtin_plugins().registry();
  const auto enc = reg.make_encoder({{"type", "vit"}, {"preset", "vit_tiny"}, {"patch_size", 4}, {"img_size", 32},
                                     {"embed_dim", 32}, {"depth", 2}, {"num_heads", 2}},
                                    build_context(32, 4, 0), "components.encoder");
  const ijepa::sdk::BuildContext c = with_encoder(build_context(32, 4, 0), *enc);
  EXPECT_EQ(c.encoder_dim, 32);
  EXPECT_EQ(c.encoder_heads, 2);
  EXPECT_EQ(c.encoder_depth, 2);
}
