// The ablation maskers of plugins/masker_ablations (paper Table 6), compiled into the test: mask validity,
// the definitions of random / block / rasterized, determinism per (seed, batch number) and thread independence.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <ATen/ATen.h>

#include "ablation_options.hpp"
#include "block_masker.hpp"
#include "mask_util.hpp"
#include "random_masker.hpp"
#include "rasterized_masker.hpp"

namespace ab = ijepa::plugins::masker_ablations;
namespace sdk = ijepa::sdk;

namespace {

sdk::BuildContext context(std::int64_t gh, std::int64_t gw, std::uint64_t seed = 0) {
  sdk::BuildContext ctx;
  ctx.seed = seed;
  ctx.patch_size = 4;
  ctx.image_size = gh * 4;
  ctx.grid = {gh, gw};
  return ctx;
}

std::vector<std::int64_t> row_ids(const at::Tensor& m, std::int64_t b) {  // m [B, K] -> ids of image b
  const at::Tensor r = m[b].contiguous();
  return {r.data_ptr<std::int64_t>(), r.data_ptr<std::int64_t>() + r.numel()};
}

// Every mask int64 [B, K] with K > min_keep, ids in [0, N) strictly ascending per row, and for every image the
// context disjoint from every target.
void expect_valid(const sdk::MaskSet& ms, std::int64_t batch, sdk::PatchGrid grid, std::int64_t min_keep,
                  std::size_t n_ctx, std::size_t n_tgt) {
  ASSERT_EQ(ms.context.size(), n_ctx);
  ASSERT_EQ(ms.target.size(), n_tgt);
  EXPECT_EQ(ms.fallbacks, 0);
  for (const auto* list : {&ms.context, &ms.target}) {
    for (const auto& m : *list) {
      ASSERT_EQ(m.scalar_type(), at::kLong);
      ASSERT_EQ(m.dim(), 2);
      ASSERT_EQ(m.size(0), batch);
      EXPECT_GT(m.size(1), min_keep);
      EXPECT_GE(m.min().item<std::int64_t>(), 0);
      EXPECT_LT(m.max().item<std::int64_t>(), grid.count());
      for (std::int64_t b = 0; b < batch; ++b) {
        const auto ids = row_ids(m, b);
        EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end())
            << "ids of a row must be strictly ascending";
      }
    }
  }
  for (std::int64_t b = 0; b < batch; ++b) {
    std::set<std::int64_t> ctx;
    for (const auto& c : ms.context) {
      const auto ids = row_ids(c, b);
      ctx.insert(ids.begin(), ids.end());
    }
    for (const auto& t : ms.target)
      for (auto id : row_ids(t, b)) ASSERT_EQ(ctx.count(id), 0u) << "image " << b << ": patch " << id << " in both";
  }
}

bool same(const sdk::MaskSet& a, const sdk::MaskSet& b) {
  if (a.context.size() != b.context.size() || a.target.size() != b.target.size()) return false;
  for (std::size_t i = 0; i < a.context.size(); ++i)
    if (!at::equal(a.context[i], b.context[i])) return false;
  for (std::size_t i = 0; i < a.target.size(); ++i)
    if (!at::equal(a.target[i], b.target[i])) return false;
  return true;
}

// Serial samples of steps 0..23 equal those drawn by 4 threads, each taking every 4th step in reverse order.
void expect_thread_independent(sdk::Masker& m, std::int64_t batch) {
  constexpr int kSteps = 24;
  std::vector<sdk::MaskSet> serial;
  for (int s = 0; s < kSteps; ++s) serial.push_back(m.sample(batch, static_cast<std::uint64_t>(s)));
  std::vector<sdk::MaskSet> parallel(kSteps);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int s = kSteps - 4 + t; s >= 0; s -= 4) parallel[s] = m.sample(batch, static_cast<std::uint64_t>(s));
    });
  }
  for (auto& th : threads) th.join();
  for (int s = 0; s < kSteps; ++s) EXPECT_TRUE(same(serial[s], parallel[s])) << "step " << s;
}

// Same (seed, batch) -> same masks, also from a second object; other batch numbers and other seeds -> other masks.
template <class M, class O>
void expect_deterministic(const O& opts, sdk::PatchGrid g, std::int64_t batch) {
  M a(opts, context(g.h, g.w, 5)), b(opts, context(g.h, g.w, 5)), c(opts, context(g.h, g.w, 6));
  for (std::uint64_t step : {0ULL, 1ULL, 17ULL, 123456789ULL}) {
    const auto ma = a.sample(batch, step);
    EXPECT_TRUE(same(ma, a.sample(batch, step))) << "repeatable, step " << step;
    EXPECT_TRUE(same(ma, b.sample(batch, step))) << "same on another object, step " << step;
    EXPECT_FALSE(same(ma, a.sample(batch, step + 1))) << "batch numbers " << step << " and " << step + 1;
    EXPECT_FALSE(same(ma, c.sample(batch, step))) << "run seeds 5 and 6, step " << step;
  }
}

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

template <class Fn>
void expect_key_error(const char* key, Fn&& fn) {
  try {
    fn();
    ADD_FAILURE() << "accepted a bad '" << key << "'";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(std::string("'") + key + "'"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

}  // namespace

// ---------------------------------------------------------------- random

TEST(RandomMasker, TargetIsRoundRatioOfTheGridAndContextItsComplement) {
  struct Case {
    sdk::PatchGrid g;
    double ratio;
    std::int64_t k;  // round(ratio * N), half away from zero
  };
  const Case cases[] = {{{8, 8}, 0.6, 38}, {{14, 14}, 0.6, 118}, {{5, 5}, 0.5, 13}, {{7, 3}, 0.25, 5}};
  for (const auto& c : cases) {
    ab::RandomOptions o;
    o.ratio = c.ratio;
    o.min_keep = 2;
    ab::RandomMasker m(o, context(c.g.h, c.g.w, 1));
    EXPECT_EQ(m.target_count(), c.k);
    for (std::uint64_t step = 0; step < 5; ++step) {
      const auto ms = m.sample(6, step);
      expect_valid(ms, 6, c.g, o.min_keep, 1, 1);
      ASSERT_EQ(ms.target[0].size(1), c.k) << c.g.h << "x" << c.g.w;
      ASSERT_EQ(ms.context[0].size(1), c.g.count() - c.k);
      for (std::int64_t b = 0; b < 6; ++b) {
        std::set<std::int64_t> all;
        for (const auto* t : {&ms.target[0], &ms.context[0]}) {
          const auto ids = row_ids(*t, b);
          all.insert(ids.begin(), ids.end());
        }
        EXPECT_EQ(static_cast<std::int64_t>(all.size()), c.g.count()) << "target and context cover the grid";
      }
    }
  }
}

TEST(RandomMasker, ImagesDifferAndEveryPatchIsATargetAtTheRatio) {
  ab::RandomMasker m(ab::RandomOptions{}, context(8, 8, 2));
  std::vector<int> hits(64, 0);
  std::int64_t images = 0;
  for (std::uint64_t step = 0; step < 25; ++step) {
    const auto ms = m.sample(32, step);
    EXPECT_FALSE(at::equal(ms.target[0][0], ms.target[0][1])) << "per-image draws";
    for (std::int64_t b = 0; b < 32; ++b, ++images)
      for (auto id : row_ids(ms.target[0], b)) ++hits[static_cast<std::size_t>(id)];
  }
  // 800 images, p = 38/64: the binomial sd is ~14 hits; allow 5 sd.
  const double expected = static_cast<double>(images) * 38.0 / 64.0;
  for (std::size_t i = 0; i < hits.size(); ++i) EXPECT_NEAR(hits[i], expected, 70.0) << "patch " << i;
}

TEST(RandomMasker, DeterministicPerSeedAndBatchNumber) {
  expect_deterministic<ab::RandomMasker>(ab::RandomOptions{}, {8, 8}, 8);
}

TEST(RandomMasker, ThreadIndependent) {
  ab::RandomMasker m(ab::RandomOptions{}, context(8, 8, 3));
  expect_thread_independent(m, 16);
}

TEST(RandomMasker, MinKeepIsCheckedAgainstBothMasks) {
  ab::RandomOptions o;  // 8x8, ratio 0.6: 38 target, 26 context
  o.min_keep = 26;
  expect_key_error("min_keep", [&] { ab::RandomMasker m(o, context(8, 8)); });
  o.min_keep = 25;
  EXPECT_NO_THROW(ab::RandomMasker(o, context(8, 8)));
  o.ratio = 0.1;  // 6 target patches
  o.min_keep = 6;
  try {
    ab::RandomMasker m(o, context(8, 8));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("target"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- block

TEST(BlockMasker, ReachableShapesAndGoldenDraws) {
  // Independently computed (Python: round() of sqrt(floor(N*0.6)*a), sqrt(floor(N*0.6)/a), a in [0.75, 1.5]).
  using S = std::set<std::pair<std::int64_t, std::int64_t>>;
  auto shapes = [](sdk::PatchGrid g) {
    S s;
    for (const auto& b : ab::reachable_block_shapes(g, 0.6, {0.75, 1.5})) s.insert({b.h, b.w});
    return s;
  };
  EXPECT_EQ(shapes({8, 8}), (S{{5, 7}, {6, 6}, {6, 7}, {7, 5}, {7, 6}, {8, 5}}));
  EXPECT_EQ(shapes({14, 14}), (S{{9, 12}, {10, 11}, {10, 12}, {11, 10}, {11, 11}, {12, 9}, {12, 10}, {13, 9}}));
  EXPECT_EQ(shapes({7, 9}), (S{{5, 7}, {6, 6}, {6, 7}, {7, 5}, {7, 6}}));  // 8x5 clamped to the 7 rows
  // Generator().manual_seed(k).rand(1): 0.4963 (k=0), 0.7576 (k=1)
  ab::BlockMasker m8(ab::BlockOptions{}, context(8, 8));
  ab::BlockMasker m14(ab::BlockOptions{}, context(14, 14));
  EXPECT_TRUE(m8.block_shape(0) == (ab::BlockShape{7, 6}));
  EXPECT_TRUE(m8.block_shape(1) == (ab::BlockShape{7, 5}));
  EXPECT_TRUE(m14.block_shape(0) == (ab::BlockShape{11, 10}));
}

TEST(BlockMasker, TargetIsOneFullRectangleAndContextItsComplement) {
  const sdk::PatchGrid g{8, 8};
  ab::BlockOptions o;
  ab::BlockMasker m(o, context(g.h, g.w, 4));
  const auto reachable = ab::reachable_block_shapes(g, o.scale, o.aspect_ratio);
  std::set<std::pair<std::int64_t, std::int64_t>> corners;
  bool last_row = false, last_col = false;
  for (std::uint64_t step = 0; step < 40; ++step) {
    const auto ms = m.sample(16, step);
    expect_valid(ms, 16, g, o.min_keep, 1, 1);
    const ab::BlockShape s = m.block_shape(step);
    EXPECT_TRUE(std::find(reachable.begin(), reachable.end(), s) != reachable.end());
    // the batch shares one shape: K_tgt = h*w, K_ctx = N - h*w for every image
    ASSERT_EQ(ms.target[0].size(1), s.area());
    ASSERT_EQ(ms.context[0].size(1), g.count() - s.area());
    // area in the range the scale allows: floor(0.6*64)=38 up to rounding of both sides (35..42)
    EXPECT_GE(s.area(), 35);
    EXPECT_LE(s.area(), 42);
    for (std::int64_t b = 0; b < 16; ++b) {
      const auto ids = row_ids(ms.target[0], b);
      const Rect r = bounding(ids, g.w);
      EXPECT_TRUE(r.full) << "the target is a full rectangle";
      EXPECT_EQ(r.h, s.h);
      EXPECT_EQ(r.w, s.w);
      corners.insert({r.top, r.left});
      last_row = last_row || r.top + r.h == g.h;
      last_col = last_col || r.left + r.w == g.w;
      std::set<std::int64_t> all(ids.begin(), ids.end());
      const auto ctx = row_ids(ms.context[0], b);
      all.insert(ctx.begin(), ctx.end());
      EXPECT_EQ(static_cast<std::int64_t>(all.size()), g.count()) << "the context is the whole complement";
    }
  }
  EXPECT_GT(corners.size(), 3u) << "positions are drawn per image";
  EXPECT_TRUE(last_row && last_col) << "the last row and column are reachable";
}

TEST(BlockMasker, DeterministicPerSeedAndBatchNumber) {
  expect_deterministic<ab::BlockMasker>(ab::BlockOptions{}, {14, 14}, 8);
}

TEST(BlockMasker, ThreadIndependent) {
  ab::BlockMasker m(ab::BlockOptions{}, context(14, 14, 3));
  expect_thread_independent(m, 16);
}

TEST(BlockMasker, MinKeepIsCheckedAgainstTargetAndComplement) {
  ab::BlockOptions o;
  o.min_keep = 10;  // 4x4 grid: floor(16*0.6)=9 -> 3x3 (9) or smaller blocks
  try {
    ab::BlockMasker m(o, context(4, 4));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'min_keep'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("target block"), std::string::npos) << msg;
    EXPECT_NE(msg.find("4x4"), std::string::npos) << msg;
  }
  o.scale = 0.95;  // 8x8: the block can cover the whole grid -> an empty context
  o.min_keep = 0;
  try {
    ab::BlockMasker m(o, context(8, 8));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  o.scale = 0.6;
  o.min_keep = 20;  // 8x8: targets 35..42, contexts 22..29
  EXPECT_NO_THROW(ab::BlockMasker(o, context(8, 8)));
  o.min_keep = 22;
  EXPECT_THROW(ab::BlockMasker(o, context(8, 8)), std::invalid_argument);
}

// ---------------------------------------------------------------- rasterized

TEST(RasterizedMasker, ContextIsOneQuadrantAndTargetsTheOtherThree) {
  const sdk::PatchGrid g{8, 8};
  ab::RasterizedMasker m(ab::RasterizedOptions{}, context(g.h, g.w, 7));
  auto quadrant_of = [&](std::int64_t id) { return (id / g.w >= 4 ? 2 : 0) + (id % g.w >= 4 ? 1 : 0); };
  std::map<std::int64_t, int> context_counts;
  for (std::uint64_t step = 0; step < 10; ++step) {
    const auto ms = m.sample(16, step);
    expect_valid(ms, 16, g, 4, 1, 3);
    const auto cq = m.context_quadrants(16, step);
    for (std::int64_t b = 0; b < 16; ++b) {
      const auto ctx = row_ids(ms.context[0], b);
      ASSERT_EQ(ctx.size(), 16u);
      const std::int64_t q = quadrant_of(ctx.front());
      for (auto id : ctx) EXPECT_EQ(quadrant_of(id), q) << "the context is exactly one quadrant";
      EXPECT_EQ(q, cq[static_cast<std::size_t>(b)]);
      ++context_counts[q];
      std::set<std::int64_t> seen{q};
      std::int64_t prev = -1;
      for (const auto& t : ms.target) {
        const auto ids = row_ids(t, b);
        ASSERT_EQ(ids.size(), 16u);
        const std::int64_t tq = quadrant_of(ids.front());
        for (auto id : ids) EXPECT_EQ(quadrant_of(id), tq) << "each target is one whole quadrant";
        EXPECT_GT(tq, prev) << "targets in quadrant order";
        prev = tq;
        seen.insert(tq);
      }
      EXPECT_EQ(seen.size(), 4u) << "context + 3 targets = the four quadrants";
    }
  }
  EXPECT_EQ(context_counts.size(), 4u) << "every quadrant is drawn as context";
  for (const auto& [q, n] : context_counts) EXPECT_GT(n, 20) << "quadrant " << q;  // 160 draws, ~40 each
}

TEST(RasterizedMasker, FixedContextQuadrant) {
  ab::RasterizedOptions o;
  o.context_quadrant = 2;  // bottom-left
  ab::RasterizedMasker m(o, context(8, 8));
  const auto ms = m.sample(4, 3);
  for (std::int64_t b = 0; b < 4; ++b) {
    EXPECT_EQ(row_ids(ms.context[0], b), m.quadrant(2));
    EXPECT_EQ(row_ids(ms.target[0], b), m.quadrant(0));
    EXPECT_EQ(row_ids(ms.target[1], b), m.quadrant(1));
    EXPECT_EQ(row_ids(ms.target[2], b), m.quadrant(3));
  }
  std::vector<std::int64_t> bl;
  for (std::int64_t r = 4; r < 8; ++r)
    for (std::int64_t c = 0; c < 4; ++c) bl.push_back(r * 8 + c);
  EXPECT_EQ(m.quadrant(2), bl);
}

TEST(RasterizedMasker, OddGridDropsTheMiddleRowAndColumn) {
  const sdk::PatchGrid g{7, 5};  // quadrants 3x2; row 3 and column 2 are in no mask
  ab::RasterizedMasker m(ab::RasterizedOptions{}, context(g.h, g.w, 1));
  for (std::uint64_t step = 0; step < 5; ++step) {
    const auto ms = m.sample(8, step);
    expect_valid(ms, 8, g, 4, 1, 3);
    ASSERT_EQ(ms.context[0].size(1), 6);
    for (std::int64_t b = 0; b < 8; ++b) {
      std::set<std::int64_t> all;
      for (const auto* list : {&ms.context, &ms.target})
        for (const auto& t : *list) {
          const auto ids = row_ids(t, b);
          all.insert(ids.begin(), ids.end());
        }
      EXPECT_EQ(all.size(), 24u);
      for (auto id : all) {
        EXPECT_NE(id / g.w, 3) << "middle row";
        EXPECT_NE(id % g.w, 2) << "middle column";
      }
    }
  }
  EXPECT_EQ(m.quadrant(3), (std::vector<std::int64_t>{23, 24, 28, 29, 33, 34}));  // rows 4..6, columns 3..4
}

TEST(RasterizedMasker, DeterministicPerSeedAndBatchNumber) {
  expect_deterministic<ab::RasterizedMasker>(ab::RasterizedOptions{}, {8, 8}, 16);
}

TEST(RasterizedMasker, ThreadIndependent) {
  ab::RasterizedMasker m(ab::RasterizedOptions{}, context(8, 8, 3));
  expect_thread_independent(m, 16);
}

TEST(RasterizedMasker, MinKeepAndGridAreChecked) {
  ab::RasterizedOptions o;
  o.min_keep = 4;  // 4x4 grid: quadrants of 2x2 = 4 patches
  expect_key_error("min_keep", [&] { ab::RasterizedMasker m(o, context(4, 4)); });
  o.min_keep = 3;
  EXPECT_NO_THROW(ab::RasterizedMasker(o, context(4, 4)));
  o.min_keep = 0;
  EXPECT_THROW(ab::RasterizedMasker(o, context(1, 6)), std::invalid_argument);
}

// ---------------------------------------------------------------- common

TEST(AblationMaskers, NoMaskStatsCapabilityAndBadBatchSize) {
  ab::RandomMasker r(ab::RandomOptions{}, context(8, 8));
  ab::BlockMasker b(ab::BlockOptions{}, context(8, 8));
  ab::RasterizedMasker q(ab::RasterizedOptions{}, context(8, 8));
  for (sdk::Masker* m : std::vector<sdk::Masker*>{&r, &b, &q}) {
    EXPECT_EQ(m->capability(sdk::kMaskStatsId), nullptr);
    EXPECT_THROW(m->sample(0, 0), std::invalid_argument);
  }
}

TEST(AblationMaskers, StackTruncatesToTheBatchMinimum) {
  const at::Tensor t = ab::stack_truncated({{1, 4, 9}, {2, 3}, {0, 5, 6, 7}});
  EXPECT_TRUE(at::equal(t, at::tensor({1, 4, 2, 3, 0, 5}, at::kLong).reshape({3, 2})));
}

TEST(AblationOptions, DefaultsRoundTripAndBadValuesNameTheKey) {
  EXPECT_EQ(ab::RandomOptions::default_config(), (nlohmann::json{{"ratio", 0.6}, {"min_keep", 4}}));
  EXPECT_EQ(ab::BlockOptions::default_config(),
            (nlohmann::json{{"scale", 0.6}, {"aspect_ratio", {0.75, 1.5}}, {"min_keep", 4}}));
  EXPECT_EQ(ab::RasterizedOptions::default_config(), (nlohmann::json{{"context_quadrant", -1}, {"min_keep", 4}}));
  struct Schema {
    nlohmann::json defaults, doc;
    std::function<nlohmann::json(const nlohmann::json&)> round_trip;
  };
  const Schema schemas[] = {
      {ab::RandomOptions::default_config(), ab::RandomOptions::doc(),
       [](const nlohmann::json& c) { return ab::RandomOptions::from_json(c).to_json(); }},
      {ab::BlockOptions::default_config(), ab::BlockOptions::doc(),
       [](const nlohmann::json& c) { return ab::BlockOptions::from_json(c).to_json(); }},
      {ab::RasterizedOptions::default_config(), ab::RasterizedOptions::doc(),
       [](const nlohmann::json& c) { return ab::RasterizedOptions::from_json(c).to_json(); }}};
  for (const auto& s : schemas) {
    EXPECT_EQ(s.doc.size(), s.defaults.size());
    for (auto it = s.defaults.begin(); it != s.defaults.end(); ++it)
      EXPECT_TRUE(s.doc[it.key()].is_string()) << it.key();
    EXPECT_EQ(s.round_trip(s.defaults), s.defaults);
  }
  struct Bad {
    int schema;
    const char* key;
    nlohmann::json value;
  };
  const Bad bad[] = {{0, "ratio", 0.0},          {0, "ratio", 1.0},          {0, "ratio", "0.6"},
                     {0, "min_keep", -1},        {0, "min_keep", 2.5},       {1, "scale", 1.0},
                     {1, "scale", -0.1},         {1, "aspect_ratio", 1.0},   {1, "aspect_ratio", {0.0, 1.0}},
                     {1, "aspect_ratio", {2.0, 1.0}}, {1, "min_keep", -3},   {2, "context_quadrant", 4},
                     {2, "context_quadrant", -2}, {2, "context_quadrant", 1.0}, {2, "min_keep", "4"}};
  for (const auto& b : bad) {
    nlohmann::json cfg = schemas[b.schema].defaults;
    cfg[b.key] = b.value;
    expect_key_error(b.key, [&] { (void)schemas[b.schema].round_trip(cfg); });
  }
}
