// MultiBlockMasker (plugins/masker_multiblock), compiled into the test: the golden checks of ijepa-spec.md 2.8.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "block_size.hpp"
#include "multiblock_masker.hpp"
#include "multiblock_options.hpp"
#include "ijepa/sdk/seeds.hpp"

namespace mb = ijepa::plugins::masker_multiblock;
namespace sdk = ijepa::sdk;

namespace {

sdk::BuildContext context(std::int64_t image_size, std::int64_t patch_size, std::uint64_t seed = 0) {
  sdk::BuildContext ctx;
  ctx.seed = seed;
  ctx.image_size = image_size;
  ctx.patch_size = patch_size;
  ctx.grid = {image_size / patch_size, image_size / patch_size};
  return ctx;
}

mb::MultiBlockOptions options(mb::Variant variant = mb::Variant::faithful) {
  mb::MultiBlockOptions o;  // the released configs' values (spec 2.1)
  o.variant = variant;
  return o;
}

std::vector<std::int64_t> row_ids(const at::Tensor& m, std::int64_t b) {  // m [B, K] -> ids of image b
  const at::Tensor r = m[b].contiguous();
  return {r.data_ptr<std::int64_t>(), r.data_ptr<std::int64_t>() + r.numel()};
}

// The bounding rectangle of `ids` on a grid of width w, and whether the ids fill it exactly.
struct Rect {
  std::int64_t top, left, h, w;
  bool full;
};
Rect bounding(const std::vector<std::int64_t>& ids, std::int64_t width) {
  std::int64_t r0 = 1 << 30, r1 = -1, c0 = 1 << 30, c1 = -1;
  for (auto id : ids) {
    r0 = std::min(r0, id / width), r1 = std::max(r1, id / width);
    c0 = std::min(c0, id % width), c1 = std::max(c1, id % width);
  }
  const std::int64_t h = r1 - r0 + 1, w = c1 - c0 + 1;
  return {r0, c0, h, w, static_cast<std::int64_t>(ids.size()) == h * w};
}

std::set<std::pair<std::int64_t, std::int64_t>> shapes(const std::vector<mb::BlockSize>& sizes) {
  std::set<std::pair<std::int64_t, std::int64_t>> s;
  for (const auto& b : sizes) s.insert({b.h, b.w});
  return s;
}

void expect_same(const sdk::MaskSet& a, const sdk::MaskSet& b) {
  ASSERT_EQ(a.context.size(), b.context.size());
  ASSERT_EQ(a.target.size(), b.target.size());
  for (std::size_t i = 0; i < a.context.size(); ++i) EXPECT_TRUE(at::equal(a.context[i], b.context[i]));
  for (std::size_t i = 0; i < a.target.size(); ++i) EXPECT_TRUE(at::equal(a.target[i], b.target[i]));
  EXPECT_EQ(a.fallbacks, b.fallbacks);
}

}  // namespace

TEST(MultiBlockMasker, GoldenDrawsOfTheBatchGenerator) {
  // spec 2.3: Generator().manual_seed(k), two rand(1) draws
  const std::vector<std::pair<double, double>> draws = {{0.4963, 0.7682}, {0.7576, 0.2793}, {0.0043, 0.1056}};
  const std::uint64_t ks[] = {0, 1, 3};
  for (int i = 0; i < 3; ++i) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(ks[i]);
    EXPECT_NEAR(at::rand({1}, g).item<float>(), draws[i].first, 1e-4) << "batch " << ks[i];
    EXPECT_NEAR(at::rand({1}, g).item<float>(), draws[i].second, 1e-4) << "batch " << ks[i];
  }
}

TEST(MultiBlockMasker, GoldenBlockSizes) {
  // spec 2.3 golden table: batch k -> (target, context) on 16x16 and 14x14
  struct Row {
    std::uint64_t k;
    mb::BlockSize t16, c16, t14, c14;
  };
  const Row rows[] = {{0, {7, 6}, {15, 15}, {6, 6}, {13, 13}},
                      {1, {8, 6}, {15, 15}, {7, 5}, {13, 13}},
                      {3, {5, 7}, {15, 15}, {5, 6}, {13, 13}}};
  mb::MultiBlockMasker m16(options(), context(224, 14));
  mb::MultiBlockMasker m14(options(), context(224, 16));
  for (const auto& r : rows) {
    const auto [t16, c16] = m16.block_sizes(r.k);
    const auto [t14, c14] = m14.block_sizes(r.k);
    EXPECT_TRUE(t16 == r.t16 && c16 == r.c16) << "16x16 batch " << r.k << ": " << t16.h << "x" << t16.w;
    EXPECT_TRUE(t14 == r.t14 && c14 == r.c14) << "14x14 batch " << r.k << ": " << t14.h << "x" << t14.w;
  }
}

TEST(MultiBlockMasker, ReachableSizesMatchTheSpecTable) {
  const auto o = options();
  using S = std::set<std::pair<std::int64_t, std::int64_t>>;
  auto targets = [&](std::int64_t n) {
    return shapes(mb::reachable_block_sizes({n, n}, o.pred_mask_scale, o.aspect_ratio, false, false));
  };
  auto contexts = [&](std::int64_t n) {
    return shapes(mb::reachable_block_sizes({n, n}, o.enc_mask_scale, {1.0, 1.0}, false, false));
  };
  EXPECT_EQ(targets(16), (S{{5, 7}, {6, 6}, {6, 7}, {7, 6}, {8, 6}, {9, 6}}));
  EXPECT_EQ(contexts(16), (S{{15, 15}}));
  EXPECT_EQ(targets(14), (S{{5, 6}, {6, 5}, {6, 6}, {7, 5}, {8, 5}}));
  EXPECT_EQ(contexts(14), (S{{13, 13}}));
  EXPECT_EQ(targets(12), (S{{4, 5}, {5, 5}, {6, 4}, {6, 5}}));
  EXPECT_EQ(contexts(12), (S{{11, 11}}));
  EXPECT_EQ(targets(8), (S{{3, 3}, {4, 3}}));
  EXPECT_EQ(contexts(8), (S{{7, 7}}));
  EXPECT_EQ(contexts(28), (S{{26, 26}, {27, 27}}));
}

TEST(MultiBlockMasker, FaithfulSixteenGridGoldens) {
  // 16x16, released scales: context always the 15x15 block at (0,0) carved by the targets, first K_enc ids;
  // targets are full rectangles of a spec 2.3 shape, K_pred = h*w; int64 [B, K]; ids in [0, N); len > min_keep.
  const auto o = options();
  mb::MultiBlockMasker m(o, context(224, 14, 42));
  const std::set<std::pair<std::int64_t, std::int64_t>> allowed = {{5, 7}, {6, 6}, {6, 7}, {7, 6}, {8, 6}, {9, 6}};
  const std::int64_t B = 16, W = 16, N = 256;
  for (std::uint64_t step = 0; step < 40; ++step) {
    const sdk::MaskSet ms = m.sample(B, step);
    ASSERT_EQ(ms.fallbacks, 0) << "step " << step;
    ASSERT_EQ(ms.context.size(), 1u);
    ASSERT_EQ(ms.target.size(), 4u);
    const auto [tsize, csize] = m.block_sizes(step);
    for (const auto& t : ms.target) {
      ASSERT_EQ(t.scalar_type(), at::kLong);
      ASSERT_EQ(t.dim(), 2);
      ASSERT_EQ(t.size(0), B);
      ASSERT_EQ(t.size(1), tsize.area());
      EXPECT_GT(t.size(1), o.min_keep);
      EXPECT_GE(t.min().item<std::int64_t>(), 0);
      EXPECT_LT(t.max().item<std::int64_t>(), N);
    }
    const at::Tensor& c = ms.context[0];
    ASSERT_EQ(c.scalar_type(), at::kLong);
    ASSERT_EQ(c.dim(), 2);
    ASSERT_EQ(c.size(0), B);
    EXPECT_GT(c.size(1), o.min_keep);
    for (std::int64_t b = 0; b < B; ++b) {
      std::set<std::int64_t> covered;
      for (const auto& t : ms.target) {
        const auto ids = row_ids(t, b);
        const Rect r = bounding(ids, W);
        EXPECT_TRUE(r.full) << "target is not a full rectangle";
        EXPECT_EQ(allowed.count({r.h, r.w}), 1u) << r.h << "x" << r.w;
        EXPECT_TRUE(r.h == tsize.h && r.w == tsize.w) << "targets share the batch's size";
        EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
        covered.insert(ids.begin(), ids.end());
      }
      // expected context: rows 0..14 x cols 0..14 minus the targets, first K_enc raster ids
      std::vector<std::int64_t> expected;
      for (std::int64_t r = 0; r < 15; ++r)
        for (std::int64_t col = 0; col < 15; ++col)
          if (covered.count(r * W + col) == 0) expected.push_back(r * W + col);
      ASSERT_GE(static_cast<std::int64_t>(expected.size()), c.size(1));
      expected.resize(static_cast<std::size_t>(c.size(1)));
      EXPECT_EQ(row_ids(c, b), expected) << "step " << step << " image " << b;
    }
  }
}

TEST(MultiBlockMasker, SameSeedSameMasksOtherSeedOtherPositions) {
  mb::MultiBlockMasker a(options(), context(224, 16, 5));
  mb::MultiBlockMasker b(options(), context(224, 16, 5));
  mb::MultiBlockMasker c(options(), context(224, 16, 6));
  for (std::uint64_t step : {0ULL, 1ULL, 17ULL, 123456789ULL}) {
    const auto ma = a.sample(8, step);
    expect_same(ma, a.sample(8, step));  // repeatable on the same object
    expect_same(ma, b.sample(8, step));  // and across objects
    const auto mc = c.sample(8, step);
    EXPECT_EQ(ma.target[0].size(1), mc.target[0].size(1)) << "sizes depend on the batch number only";
    EXPECT_FALSE(at::equal(ma.target[0], mc.target[0])) << "positions depend on the run seed";
  }
}

TEST(MultiBlockMasker, ThreadIndependent) {
  mb::MultiBlockMasker m(options(mb::Variant::fixed), context(224, 14, 3));
  constexpr int kSteps = 24;
  std::vector<sdk::MaskSet> serial;
  for (int s = 0; s < kSteps; ++s) serial.push_back(m.sample(16, static_cast<std::uint64_t>(s)));
  std::vector<sdk::MaskSet> parallel(kSteps);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {  // thread t takes steps t, t+4, ... in reverse order
      for (int s = kSteps - 4 + t; s >= 0; s -= 4) parallel[s] = m.sample(16, static_cast<std::uint64_t>(s));
    });
  }
  for (auto& th : threads) th.join();
  for (int s = 0; s < kSteps; ++s) expect_same(serial[s], parallel[s]);
}

TEST(MultiBlockMasker, LastRowAndColumnNeverInFaithfulButInFixed) {
  auto touches_edge = [](mb::MultiBlockMasker& m) {
    bool edge = false;
    for (std::uint64_t step = 0; step < 60; ++step) {
      const auto ms = m.sample(16, step);
      for (const auto* list : {&ms.context, &ms.target}) {
        for (const auto& t : *list) {
          const at::Tensor row = at::floor_divide(t, 16), col = at::remainder(t, 16);
          edge = edge || (row == 15).any().item<bool>() || (col == 15).any().item<bool>();
        }
      }
    }
    return edge;
  };
  mb::MultiBlockMasker faithful(options(), context(224, 14, 9));
  mb::MultiBlockMasker fixed(options(mb::Variant::fixed), context(224, 14, 9));
  EXPECT_FALSE(touches_edge(faithful));
  EXPECT_TRUE(touches_edge(fixed));
}

TEST(MultiBlockMasker, FixedContextTruncationIsASortedSubset) {
  mb::MultiBlockMasker m(options(mb::Variant::fixed), context(224, 14, 1));
  for (std::uint64_t step = 0; step < 10; ++step) {
    const auto ms = m.sample(32, step);
    for (std::int64_t b = 0; b < 32; ++b) {
      const auto ids = row_ids(ms.context[0], b);
      EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end())
          << "context ids strictly ascending";
      std::set<std::int64_t> covered;
      for (const auto& t : ms.target) {
        const auto tids = row_ids(t, b);
        covered.insert(tids.begin(), tids.end());
      }
      if (ms.fallbacks != 0) continue;
      for (auto id : ids) EXPECT_EQ(covered.count(id), 0u) << "context and targets overlap";
    }
  }
}

TEST(MultiBlockMasker, DisjointUnlessFallbackAndFallbacksCounted) {
  // A crowded 8x8 grid: 6 large targets often leave <= min_keep context patches, so the fallback runs.
  auto o = options();
  o.pred_mask_scale = {0.3, 0.4};
  o.num_pred_masks = 6;
  o.num_enc_masks = 2;
  mb::MultiBlockMasker m(o, context(32, 4, 11));
  const auto* stats = static_cast<const sdk::MaskStats*>(m.capability(sdk::kMaskStatsId));
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(m.capability("ijepa.no_such_capability/1"), nullptr);
  std::int64_t total = 0;
  int disjoint_batches = 0;
  for (std::uint64_t step = 0; step < 30; ++step) {
    const auto ms = m.sample(8, step);
    total += ms.fallbacks;
    for (const auto& c : ms.context) EXPECT_GT(c.size(1), o.min_keep);
    if (ms.fallbacks != 0) continue;
    ++disjoint_batches;
    for (std::int64_t b = 0; b < 8; ++b) {
      std::set<std::int64_t> covered;
      for (const auto& t : ms.target) {
        const auto ids = row_ids(t, b);
        covered.insert(ids.begin(), ids.end());
      }
      for (const auto& c : ms.context)
        for (auto id : row_ids(c, b)) EXPECT_EQ(covered.count(id), 0u);
    }
  }
  EXPECT_GT(total, 0) << "this config is meant to exercise the fallback";
  EXPECT_EQ(stats->fallbacks(), total);
  (void)disjoint_batches;
}

TEST(MultiBlockMasker, AllowOverlapKeepsTheFullContextBlock) {
  auto o = options();
  o.allow_overlap = true;
  mb::MultiBlockMasker m(o, context(224, 14, 0));
  const auto ms = m.sample(4, 0);
  EXPECT_EQ(ms.context[0].size(1), 15 * 15);
  EXPECT_EQ(ms.fallbacks, 0);
}

TEST(MultiBlockMasker, IndependentScaleAspectUsesTwoDraws) {
  auto o = options();
  o.independent_scale_aspect = true;
  mb::MultiBlockMasker m(o, context(224, 14, 0));
  // batch 0: draws 0.4963 (scale) then 0.7682 (aspect) for the target
  const auto expected = mb::block_size_from_draws({16, 16}, o.pred_mask_scale, o.aspect_ratio, 0.49625658988952637,
                                                  0.7682217955589294, false);
  EXPECT_TRUE(m.block_sizes(0).first == expected);
  const auto ms = m.sample(4, 0);
  EXPECT_EQ(ms.target[0].size(1), expected.area());
}

TEST(MultiBlockMasker, StatisticsOfTheReleasedConfig) {
  // spec 2.5: 16x16, min_keep 10, B=128 -> K_pred ~ 44, K_enc ~ 67 (46-90)
  mb::MultiBlockMasker m(options(), context(224, 14, 0));
  double enc = 0, pred = 0;
  constexpr int kSteps = 50;
  for (int s = 0; s < kSteps; ++s) {
    const auto ms = m.sample(128, static_cast<std::uint64_t>(s));
    enc += static_cast<double>(ms.context[0].size(1));
    pred += static_cast<double>(ms.target[0].size(1));
  }
  EXPECT_NEAR(enc / kSteps, 67.0, 6.0);
  EXPECT_NEAR(pred / kSteps, 44.0, 4.0);
}

TEST(MultiBlockMasker, InfeasibleMinKeepIsAConstructionError) {
  // crop 32, patch 4 -> 8x8; smallest target 3x3 = 9 <= min_keep 10 (issue #68: the reference hangs)
  try {
    mb::MultiBlockMasker m(options(), context(32, 4));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("min_keep"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3x3=9"), std::string::npos) << msg;
    EXPECT_NE(msg.find("8x8"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  auto o = options();
  o.min_keep = 8;  // 9 > 8: fine
  EXPECT_NO_THROW(mb::MultiBlockMasker(o, context(32, 4)));
  // an unreachable context block is rejected too
  o.enc_mask_scale = {0.01, 0.02};  // max_keep = 0 or 1 -> blocks of 0 or 1 patch
  o.min_keep = 0;
  o.pred_mask_scale = {0.5, 0.5};
  try {
    mb::MultiBlockMasker m(o, context(32, 4));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
}

TEST(MultiBlockMasker, PositionSeedFormula) {
  // position_seed = splitmix64(splitmix64(seed) ^ batch); reference values of SplitMix64 (seed 0 -> 0xE220A8397B1DCDAF)
  EXPECT_EQ(ijepa::sdk::splitmix64(0), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(ijepa::sdk::position_seed(0, 0), ijepa::sdk::splitmix64(0xE220A8397B1DCDAFULL));
  EXPECT_NE(ijepa::sdk::position_seed(0, 1), ijepa::sdk::position_seed(1, 0));
}

TEST(MultiBlockOptions, DefaultsRoundTripAndValidation) {
  const nlohmann::json defaults = mb::MultiBlockOptions::default_config();
  EXPECT_EQ(defaults["enc_mask_scale"], nlohmann::json({0.85, 1.0}));
  EXPECT_EQ(defaults["pred_mask_scale"], nlohmann::json({0.15, 0.2}));
  EXPECT_EQ(defaults["aspect_ratio"], nlohmann::json({0.75, 1.5}));
  EXPECT_EQ(defaults["num_enc_masks"], 1);
  EXPECT_EQ(defaults["num_pred_masks"], 4);
  EXPECT_EQ(defaults["min_keep"], 10);
  EXPECT_EQ(defaults["allow_overlap"], false);
  EXPECT_EQ(defaults["variant"], "faithful");
  EXPECT_EQ(defaults["independent_scale_aspect"], false);
  const nlohmann::json doc = mb::MultiBlockOptions::doc();
  for (auto it = defaults.begin(); it != defaults.end(); ++it) EXPECT_TRUE(doc.contains(it.key())) << it.key();
  EXPECT_EQ(doc.size(), defaults.size());
  EXPECT_EQ(mb::MultiBlockOptions::from_json(defaults).to_json(), defaults);

  struct Bad {
    const char* key;
    nlohmann::json value;
  };
  const Bad bad[] = {{"enc_mask_scale", {0.0, 1.0}},  {"enc_mask_scale", {0.5, 1.2}}, {"pred_mask_scale", {0.3, 0.2}},
                     {"pred_mask_scale", 0.2},        {"aspect_ratio", {0.0, 1.0}},  {"aspect_ratio", {2.0, 1.0}},
                     {"num_enc_masks", 0},            {"num_pred_masks", -1},        {"num_pred_masks", 1.5},
                     {"min_keep", -1},                {"variant", "better"},         {"allow_overlap", "yes"},
                     {"independent_scale_aspect", 1}};
  for (const auto& b : bad) {
    nlohmann::json cfg = defaults;
    cfg[b.key] = b.value;
    try {
      (void)mb::MultiBlockOptions::from_json(cfg);
      ADD_FAILURE() << b.key << "=" << b.value.dump() << " accepted";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + b.key + "'"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}
