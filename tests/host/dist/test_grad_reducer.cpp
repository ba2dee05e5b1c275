// 2 ranks with batch B end with the same parameters as 1 rank with batch 2B on the same images and masks: the
// bucketed all-reduce averages exactly what the big batch's mean loss differentiates.
#include <cmath>
#include <cstdio>
#include <thread>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/dist/launcher.hpp"
#include "ijepa/host/dist/process_group.hpp"
#include "host/run/test_util.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/run/training_data.hpp"

using namespace ijepa;
using namespace ijepa::host;

namespace {

nlohmann::json resolved_tiny() {
  nlohmann::json exp = test::tiny_experiment();
  exp["train"]["threads"] = 1;
  return resolve_experiment(test::layered(exp), {}, test::builtin_plugins().registry(), "test");
}

Schedules schedules() {
  Schedules s;
  s.warmup_steps = 2;
  s.total_steps = 10;
  return s;
}

// Step t's batch: 2B seeded images and the masks of the run's masker for 2B images; rank r gets rows [rB, rB + B).
Batch make_batch(JepaModel& m, std::int64_t step, std::int64_t B, int part, int parts) {
  at::manual_seed(1000 + step);
  const at::Tensor images = at::randn({2 * B, 3, 32, 32});
  const sdk::MaskSet ms = make_rank_masker(m.config(), test::builtin_plugins().registry(), 0)->sample(2 * B, static_cast<std::uint64_t>(step));
  const std::int64_t n = 2 * B / parts, lo = part * n;
  Batch b;
  b.step = step;
  b.images = images.narrow(0, lo, n).contiguous();
  b.labels = at::zeros({n}, at::kLong);
  for (const auto& c : ms.context) b.masks.context.push_back(c.narrow(0, lo, n).contiguous());
  for (const auto& t : ms.target) b.masks.target.push_back(t.narrow(0, lo, n).contiguous());
  return b;
}

}  // namespace

TEST(Distributed, TwoRanksOfBatchBMatchOneRankOfBatch2B) {
  at::set_num_threads(1);
  const nlohmann::json cfg = resolved_tiny();
  const std::int64_t B = 4, steps = 6;
  // Built one after the other on this thread (construction seeds the global generator).
  JepaModel single(cfg, test::builtin_plugins().registry());
  JepaModel r0(cfg, test::builtin_plugins().registry());  // the masks come with the batches
  JepaModel r1(cfg, test::builtin_plugins().registry());
  for (auto* m : {&single, &r0, &r1}) m->set_schedules(schedules());
  std::vector<Batch> big, part0, part1;
  for (std::int64_t s = 0; s < steps; ++s) {
    big.push_back(make_batch(single, s, B, 0, 1));
    part0.push_back(make_batch(single, s, B, 0, 2));
    part1.push_back(make_batch(single, s, B, 1, 2));
  }
  std::vector<double> loss_single, loss_dist(static_cast<std::size_t>(steps));
  for (std::int64_t s = 0; s < steps; ++s) loss_single.push_back(single.train_step(big[static_cast<std::size_t>(s)], s).loss_value());

  DistEnv e0, e1;
  e0.world = e1.world = 2;
  e1.rank = 1;
  e0.master_port = e1.master_port = free_tcp_port();
  std::shared_ptr<ProcessGroup> pg0, pg1;
  std::size_t buckets = 0, overlapped = 0;
  std::thread t1([&] {
    pg1 = ProcessGroup::connect(e1, "gloo", std::chrono::seconds(60));
    r1.distribute(pg1, 16 * 1024);  // small buckets: several per step
    for (std::int64_t s = 0; s < steps; ++s) r1.train_step(part1[static_cast<std::size_t>(s)], s);
  });
  pg0 = ProcessGroup::connect(e0, "gloo", std::chrono::seconds(60));
  r0.distribute(pg0, 16 * 1024);
  for (std::int64_t s = 0; s < steps; ++s) {
    loss_dist[static_cast<std::size_t>(s)] = r0.train_step(part0[static_cast<std::size_t>(s)], s).loss_value();
  }
  buckets = r0.reducer()->bucket_count();
  overlapped = r0.reducer()->launched_during_backward();
  t1.join();

  EXPECT_GT(buckets, 3u);
  EXPECT_GT(overlapped, 0u);  // buckets started while backward was still running
  for (std::int64_t s = 0; s < steps; ++s) {
    EXPECT_NEAR(loss_dist[static_cast<std::size_t>(s)], loss_single[static_cast<std::size_t>(s)],
                1e-5 * std::abs(loss_single[static_cast<std::size_t>(s)]))
        << "step " << s;
  }
  // Parameters after 6 AdamW steps: float32, different summation order -> agreement to ~1e-6 relative.
  const auto ws = single.weights(), w0 = r0.weights(), w1 = r1.weights();
  ASSERT_EQ(ws.size(), w0.size());
  double worst = 0;
  for (const auto& [k, v] : ws) {
    const double scale = std::max(1e-3, v.abs().max().item<double>());
    worst = std::max(worst, (w0.at(k) - v).abs().max().item<double>() / scale);
    EXPECT_TRUE(at::equal(w0.at(k), w1.at(k))) << k << ": the ranks diverged";
  }
  EXPECT_LT(worst, 1e-4) << "largest relative parameter difference";
  std::printf("[ measured ] 2 ranks x %lld vs 1 rank x %lld after %lld steps: largest parameter difference %.3g "
              "(relative to the tensor's max); %zu buckets, %zu started during backward\n",
              static_cast<long long>(B), static_cast<long long>(2 * B), static_cast<long long>(steps), worst, buckets,
              overlapped);
  // ... and they did move (the test is not comparing untrained weights).
  JepaModel fresh(cfg, test::builtin_plugins().registry());
  const auto wf = fresh.weights();
  EXPECT_GT((wf.at("encoder.blocks.0.attn.qkv.weight") - ws.at("encoder.blocks.0.attn.qkv.weight")).abs().max().item<double>(),
            1e-3);
}

TEST(Distributed, EveryRankSamplesItsOwnMasks) {
  const nlohmann::json cfg = resolved_tiny();
  const Registry& reg = test::builtin_plugins().registry();
  const auto ma = make_rank_masker(cfg, reg, 0)->sample(8, 5), mb = make_rank_masker(cfg, reg, 1)->sample(8, 5),
             ma2 = make_rank_masker(cfg, reg, 0)->sample(8, 5);
  EXPECT_TRUE(at::equal(ma.context[0], ma2.context[0]));  // deterministic per (seed, rank, step)
  EXPECT_FALSE(ma.context[0].sizes() == mb.context[0].sizes() && at::equal(ma.context[0], mb.context[0]));
}

TEST(Distributed, LaunchVariablesAreCheckedWithOneLineErrors) {
  ::unsetenv("WORLD_SIZE");
  EXPECT_FALSE(dist_env_from_environment().has_value());
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("RANK", "2", 1);
  ::setenv("MASTER_ADDR", "127.0.0.1", 1);
  ::setenv("MASTER_PORT", "29500", 1);
  try {
    dist_env_from_environment();
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("RANK='2'"), std::string::npos) << e.what();
  }
  ::setenv("RANK", "1", 1);
  ::setenv("MASTER_PORT", "port", 1);
  EXPECT_THROW(dist_env_from_environment(), std::invalid_argument);
  ::setenv("MASTER_PORT", "29501", 1);
  const auto e = dist_env_from_environment();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->rank, 1);
  EXPECT_EQ(e->world, 2);
  EXPECT_EQ(e->master_port, 29501);
  for (const char* k : {"WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(k);
}

// NCCL without a GPU: a one-line refusal before any rendezvous (or, in a build without NCCL, the backend named as
// missing). With a GPU, CudaStep.NcclOneRankCollectives runs the real thing.
TEST(Distributed, NcclWithoutAGpuIsAOneLineRefusal) {
  const bool built = distributed_backends().find("nccl") != std::string::npos;
  EXPECT_EQ(default_backend(false), "gloo");
  EXPECT_EQ(default_backend(true), built ? "nccl" : "gloo");
  if (util::cuda_available()) GTEST_SKIP() << "a GPU is here: the CUDA tests run NCCL";
  DistEnv e;
  e.master_port = free_tcp_port();
  try {
    ProcessGroup::connect(e, "nccl", std::chrono::seconds(1));
    FAIL() << "an NCCL group without a GPU";
  } catch (const DistributedError& err) {
    const std::string m = err.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find(built ? "needs a CUDA device" : "not in this build"), std::string::npos) << m;
  }
}

TEST(Distributed, APeerThatNeverArrivesIsATimeoutNotAHang) {
  DistEnv e;
  e.world = 2;
  e.master_port = free_tcp_port();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    ProcessGroup::connect(e, "gloo", std::chrono::seconds(2));
    FAIL() << "connected without the second rank";
  } catch (const DistributedError& err) {
    EXPECT_NE(std::string(err.what()).find("could not join"), std::string::npos) << err.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
  EXPECT_THROW(ProcessGroup::connect(e, "mpi", std::chrono::seconds(1)), DistributedError);
}
