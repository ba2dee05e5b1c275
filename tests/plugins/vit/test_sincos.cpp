// sincos_pos_embed_2d: the spec §3.3 test vector and the column-first layout.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "sincos.hpp"

namespace ijepa::plugins::vit {
namespace {

TEST(VitSincos, SpecTestVectorD8G2) {
  const double s1 = 0.841471, c1 = 0.540302, s01 = 0.010000, c01 = 0.999950;
  const double expected[4][8] = {
      {0, 0, 1, 1, 0, 0, 1, 1},
      {s1, s01, c1, c01, 0, 0, 1, 1},
      {0, 0, 1, 1, s1, s01, c1, c01},
      {s1, s01, c1, c01, s1, s01, c1, c01},
  };
  const at::Tensor pe = sincos_pos_embed_2d(8, 2, 2);
  ASSERT_EQ(pe.scalar_type(), at::kFloat);
  ASSERT_EQ(pe.sizes(), (at::IntArrayRef{4, 8}));
  for (int n = 0; n < 4; ++n)
    for (int d = 0; d < 8; ++d) EXPECT_NEAR(pe[n][d].item<double>(), expected[n][d], 1e-6) << n << "," << d;
}

TEST(VitSincos, ColumnHalfFirstOnRectangularGrid) {
  // 2 rows x 3 columns: token 4 = (row 1, col 1); token 2 = (row 0, col 2).
  const at::Tensor pe = sincos_pos_embed_2d(8, 2, 3).to(at::kDouble);
  const at::Tensor one_d_1 = sincos_pos_embed_2d(8, 1, 2)[1].narrow(0, 0, 4).to(at::kDouble);  // col 1
  const at::Tensor one_d_2 = sincos_pos_embed_2d(8, 1, 3)[2].narrow(0, 0, 4).to(at::kDouble);  // col 2
  EXPECT_TRUE(at::allclose(pe[4].narrow(0, 0, 4), one_d_1));
  EXPECT_TRUE(at::allclose(pe[4].narrow(0, 4, 4), one_d_1));   // row 1 uses the same 1-D code
  EXPECT_TRUE(at::allclose(pe[2].narrow(0, 0, 4), one_d_2));
  EXPECT_TRUE(at::allclose(pe[2].narrow(0, 4, 4), pe[0].narrow(0, 4, 4)));  // row 0
}

TEST(VitSincos, RejectsWidthNotDivisibleByFour) {
  EXPECT_THROW(sincos_pos_embed_2d(6, 2, 2), std::invalid_argument);
  EXPECT_THROW(sincos_pos_embed_2d(8, 0, 2), std::invalid_argument);
}

}  // namespace
}  // namespace ijepa::plugins::vit
