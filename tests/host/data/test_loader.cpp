// The loader: results independent of the worker count, rank shards, drop_last, resume.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <set>

#include <ATen/ATen.h>

#include "ijepa/host/data/loader.hpp"

using namespace ijepa;
using namespace ijepa::host;

namespace {

DataLoaderOptions options(std::int64_t workers, std::int64_t batch = 16) {
  DataLoaderOptions lo;
  lo.batch_size = batch;
  lo.image_size = 24;
  lo.hflip = true;
  lo.seed = 11;
  lo.workers = workers;
  return lo;
}

std::vector<Batch> take(Loader& loader, int steps) {
  std::vector<Batch> out;
  for (int i = 0; i < steps; ++i) out.push_back(loader.next());
  return out;
}

}  // namespace

TEST(Loader, SameSeedSameBatchesWithOneOrFourWorkers) {
  auto ds = open_synthetic(96, 32, 4, 1);
  Loader one(ds, nullptr, options(1), 0);
  Loader four(ds, nullptr, options(4), 0);
  ASSERT_EQ(one.steps_per_epoch(), 6);
  const auto a = take(one, 14), b = take(four, 14);  // across two epoch boundaries
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, static_cast<std::int64_t>(i));
    EXPECT_EQ(a[i].epoch, static_cast<std::int64_t>(i) / 6);
    EXPECT_TRUE(at::equal(a[i].images, b[i].images)) << "step " << i;
    EXPECT_TRUE(at::equal(a[i].labels, b[i].labels)) << "step " << i;
  }
  EXPECT_TRUE(at::isfinite(a[0].images).all().item<bool>());
  EXPECT_EQ(a[0].images.sizes(), (std::vector<std::int64_t>{16, 3, 24, 24}));
  // Epochs are reshuffled, and make_batch(step) reproduces any step (resume).
  EXPECT_FALSE(at::equal(a[0].labels, a[6].labels) && at::equal(a[1].labels, a[7].labels));
  Loader resumed(ds, nullptr, options(2), 9);
  const Batch r = resumed.next();
  EXPECT_EQ(r.step, 9);
  EXPECT_TRUE(at::equal(r.images, a[9].images));
  EXPECT_TRUE(at::equal(one.make_batch(3).images, a[3].images));
  // Another seed, another order.
  auto other = options(1);
  other.seed = 12;
  Loader o(ds, nullptr, other, 0);
  EXPECT_FALSE(at::equal(o.next().images, a[0].images));
}

TEST(Loader, RankShardsAreDisjointAndCoverTheEpoch) {
  auto ds = open_synthetic(100, 16, 4, 1);
  for (bool drop_last : {true, false}) {
    for (std::int64_t epoch : {0, 1}) {
      std::multiset<std::int64_t> all;
      std::vector<std::size_t> sizes;
      for (std::int64_t rank = 0; rank < 3; ++rank) {
        auto lo = options(1, 4);
        lo.rank = rank;
        lo.world = 3;
        lo.drop_last = drop_last;
        Loader l(ds, nullptr, lo, 0);
        const auto s = l.shard(epoch);
        sizes.push_back(s.size());
        all.insert(s.begin(), s.end());
      }
      std::set<std::int64_t> distinct(all.begin(), all.end());
      EXPECT_EQ(distinct.size(), 100u);
      EXPECT_EQ(*distinct.begin(), 0);
      EXPECT_EQ(*distinct.rbegin(), 99);
      if (drop_last) {
        EXPECT_EQ(all.size(), 100u) << "shards overlap";
      } else {
        // DistributedSampler padding: 102 slots, every rank 34, two images repeated.
        EXPECT_EQ(all.size(), 102u);
        EXPECT_EQ(sizes, (std::vector<std::size_t>{34, 34, 34}));
      }
    }
  }
}

TEST(Loader, DropLast) {
  auto ds = open_synthetic(50, 16, 4, 1);
  auto lo = options(1, 8);
  Loader dropped(ds, nullptr, lo, 0);
  EXPECT_EQ(dropped.steps_per_epoch(), 6);
  EXPECT_EQ(dropped.make_batch(5).images.size(0), 8);
  lo.drop_last = false;
  Loader kept(ds, nullptr, lo, 0);
  EXPECT_EQ(kept.steps_per_epoch(), 7);
  const Batch last = kept.make_batch(6);
  EXPECT_EQ(last.images.size(0), 2);
  EXPECT_EQ(last.labels.size(0), 2);
  EXPECT_EQ(kept.make_batch(7).epoch, 1);
  // The images of a batch do not depend on drop_last.
  EXPECT_TRUE(at::equal(kept.make_batch(2).images, dropped.make_batch(2).images));
}

TEST(Loader, TooFewImagesForABatch) {
  auto ds = open_synthetic(10, 16, 2, 1);
  EXPECT_THROW(Loader(ds, nullptr, options(1, 16), 0), DataError);
}

// Hostile-input issue, item 6: when the loader cannot start its threads (out of address space for their stacks),
// the error names data.workers, and the threads already started are stopped: no std::terminate.
TEST(LoaderDeathTest, ThreadCreationFailureIsADataErrorNamingTheKey) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        long vm_kib = 0;
        std::ifstream status("/proc/self/status");
        for (std::string line; std::getline(status, line);) {
          if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stol(line.substr(7));
        }
        rlimit rl{};
        ::getrlimit(RLIMIT_AS, &rl);
        rl.rlim_cur = static_cast<rlim_t>(vm_kib) * 1024 + (256u << 20);  // room for a few 8 MiB stacks, not 256
        ::setrlimit(RLIMIT_AS, &rl);
        ijepa::host::DataLoaderOptions lo;
        lo.batch_size = 8;
        lo.image_size = 32;
        lo.workers = 256;
        try {
          ijepa::host::Loader loader(ijepa::host::open_synthetic(64, 32, 2, 1), nullptr, lo, 0);
          std::fprintf(stderr, "all threads started\n");
          std::_Exit(1);
        } catch (const ijepa::host::DataError& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::_Exit(0);
        }
      },
      ::testing::ExitedWithCode(0), "loader: cannot start worker thread [0-9]+ of 256 \\(data.workers\\)");
}
