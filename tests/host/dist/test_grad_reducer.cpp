// 2 ranks with batch B end with the same parameters as 1 rank with batch 2B on the same images and masks: the
// bucketed all-reduce averages exactly what the big batch's mean loss differentiates.
#include <cmath>
#include <cstdio>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Rank 1 on a thread, rank 0 here, one Gloo group (small buckets: several per step); each rank takes `steps` steps
// with its own batches (one batch, or a step's micro-batches). Returns rank 0's losses.
template <class Batches>
std::vector<double> on_two_ranks(JepaModel& r0, JepaModel& r1, const std::vector<Batches>& b0,
                                 const std::vector<Batches>& b1) {
  DistEnv e0, e1;
  e0.world = e1.world = 2;
  e1.rank = 1;
  e0.master_port = e1.master_port = free_tcp_port();
  std::shared_ptr<ProcessGroup> pg0, pg1;
  std::thread t1([&] {
    pg1 = ProcessGroup::connect(e1, "gloo", std::chrono::seconds(60));
    r1.distribute(pg1, 16 * 1024);
    for (std::size_t s = 0; s < b1.size(); ++s) r1.train_step(b1[s], static_cast<std::int64_t>(s));
  });
  pg0 = ProcessGroup::connect(e0, "gloo", std::chrono::seconds(60));
  r0.distribute(pg0, 16 * 1024);
  std::vector<double> losses;
  for (std::size_t s = 0; s < b0.size(); ++s) losses.push_back(r0.train_step(b0[s], static_cast<std::int64_t>(s)).loss_value());
  t1.join();
  return losses;
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
  std::vector<double> loss_single;
  for (std::int64_t s = 0; s < steps; ++s) loss_single.push_back(single.train_step(big[static_cast<std::size_t>(s)], s).loss_value());
  const std::vector<double> loss_dist = on_two_ranks(r0, r1, part0, part1);
  const std::size_t buckets = r0.reducer()->bucket_count();
  const std::size_t overlapped = r0.reducer()->launched_during_backward();

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
  ::unsetenv("RANK");
  EXPECT_FALSE(dist_env_from_environment().has_value());
  // RANK without WORLD_SIZE trained a whole run alone, exit 0.
  ::setenv("RANK", "1", 1);
  try {
    dist_env_from_environment();
    FAIL() << "RANK without WORLD_SIZE";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("RANK='1' is set but WORLD_SIZE is not"), std::string::npos) << e.what();
  }
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

// A rank left waiting past the timeout (rank 0 evaluating alone for longer, say) is told that, not only that a rank
// may have died: the helper's --dist-timeout of 3 s against a k-NN evaluation read as a crash.
TEST(Distributed, ATimeoutSaysTheOtherRankMayBeBusyPastTheTimeout) {
  DistEnv e0, e1;
  e0.world = e1.world = 2;
  e1.rank = 1;
  e0.master_port = e1.master_port = free_tcp_port();
  std::shared_ptr<ProcessGroup> pg1;
  std::string error;
  std::thread t1([&] {
    pg1 = ProcessGroup::connect(e1, "gloo", std::chrono::seconds(2));
    try {
      pg1->allreduce_sum(at::ones({4}), "the loss all-reduce of step 8");
    } catch (const DistributedError& err) {
      error = err.what();
    }
  });
  const auto pg0 = ProcessGroup::connect(e0, "gloo", std::chrono::seconds(60));
  t1.join();  // rank 0 is "busy": it never joins the all-reduce
  EXPECT_NE(error.find("distributed: rank 1: the loss all-reduce of step 8 failed ("), std::string::npos) << error;
  EXPECT_NE(error.find("or is still busy: rank 0 runs the in-run evaluations and checkpoints while the others wait, "
                       "so --dist-timeout must cover the longest of them"),
            std::string::npos)
      << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(Distributed, AForeignProgramOnMasterPortIsATimeoutNotAHang) {
  // A listener that accepts connections (the kernel does, into its backlog) and never answers, as another program
  // on MASTER_PORT would: torch's TCPStore client alone waits on it without end.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  DistEnv e;
  e.world = 2;
  e.rank = 1;
  e.master_port = ntohs(a.sin_port);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    ProcessGroup::connect(e, "gloo", std::chrono::seconds(1));
    FAIL() << "joined a group through a program that never answers";
  } catch (const DistributedError& err) {
    const std::string m = err.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_NE(m.find("rank 1/2 could not join the group at 127.0.0.1:" + std::to_string(e.master_port)),
              std::string::npos) << m;
    EXPECT_NE(m.find("is another program listening on MASTER_PORT?"), std::string::npos) << m;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 30.0) << "the timeout (1 s) and the grace (10 s)";
  ::close(fd);  // the store's thread, still reading, gets the reset and ends
}

// ---- gradient accumulation and clipping (issue #20, item 4) ---------------------------------------------------
// k micro-batches of B equal one batch of kB on the same images and masks: the mean loss over equal-sized
// micro-batches is the big batch's mean, so only float32 summation order differs (parameters within 1e-5 relative
// after the steps, as for the ranks above).

namespace {

void expect_same_weights(const JepaModel& a, const JepaModel& b, const std::string& what) {
  const auto wa = a.weights(), wb = b.weights();
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [k, v] : wa) {
    EXPECT_TRUE(at::allclose(v, wb.at(k), 1e-5, 1e-6)) << what << ": " << k << " max diff "
                                                       << (v - wb.at(k)).abs().max().item<double>();
  }
}

nlohmann::json with_train(nlohmann::json cfg, const char* key, const nlohmann::json& value) {
  cfg["train"][key] = value;
  return cfg;
}

}  // namespace

TEST(Accumulation, TwoMicroBatchesOfBEqualOneBatchOf2B) {
  at::set_num_threads(1);
  const nlohmann::json cfg = resolved_tiny();
  const std::int64_t B = 4, steps = 4;
  JepaModel big(cfg, test::builtin_plugins().registry());
  JepaModel acc(with_train(cfg, "accum_steps", 2), test::builtin_plugins().registry());
  EXPECT_EQ(acc.accum_steps(), 2);
  for (auto* m : {&big, &acc}) m->set_schedules(schedules());
  for (std::int64_t s = 0; s < steps; ++s) {
    const double lb = big.train_step(make_batch(big, s, B, 0, 1), s).loss_value();
    const double la =
        acc.train_step(std::vector<Batch>{make_batch(big, s, B, 0, 2), make_batch(big, s, B, 1, 2)}, s).loss_value();
    EXPECT_NEAR(la, lb, 1e-5 * std::abs(lb)) << "step " << s << ": the mean of the micro-batch means";
  }
  expect_same_weights(big, acc, "accumulated");
}

TEST(Accumulation, TwoRanksAccumulatingMatchOneBigBatchOnGloo) {
  at::set_num_threads(1);
  const nlohmann::json cfg = resolved_tiny();
  const std::int64_t B = 4, steps = 4;
  JepaModel single(cfg, test::builtin_plugins().registry());
  const nlohmann::json acc = with_train(cfg, "accum_steps", 2);
  JepaModel r0(acc, test::builtin_plugins().registry());
  JepaModel r1(acc, test::builtin_plugins().registry());
  for (auto* m : {&single, &r0, &r1}) m->set_schedules(schedules());
  std::vector<Batch> big;
  std::vector<std::vector<Batch>> q0, q1;  // rank r: quarters 2r and 2r + 1 of the big batch
  for (std::int64_t s = 0; s < steps; ++s) {
    big.push_back(make_batch(single, s, B, 0, 1));
    q0.push_back({make_batch(single, s, B, 0, 4), make_batch(single, s, B, 1, 4)});
    q1.push_back({make_batch(single, s, B, 2, 4), make_batch(single, s, B, 3, 4)});
  }
  std::vector<double> loss_single;
  for (std::int64_t s = 0; s < steps; ++s) loss_single.push_back(single.train_step(big[static_cast<std::size_t>(s)], s).loss_value());
  const std::vector<double> loss_dist = on_two_ranks(r0, r1, q0, q1);
  for (std::int64_t s = 0; s < steps; ++s) {
    EXPECT_NEAR(loss_dist[static_cast<std::size_t>(s)], loss_single[static_cast<std::size_t>(s)],
                1e-5 * std::abs(loss_single[static_cast<std::size_t>(s)]))
        << "step " << s;
  }
  expect_same_weights(single, r0, "rank 0");
  expect_same_weights(single, r1, "rank 1");
}

TEST(Accumulation, ClipGradBoundsTheGlobalNormAndIsOffByDefault) {
  at::set_num_threads(1);
  const nlohmann::json cfg = resolved_tiny();
  EXPECT_EQ(cfg["train"]["clip_grad"], 0.0);
  JepaModel plain(cfg, test::builtin_plugins().registry());
  JepaModel loose(with_train(cfg, "clip_grad", 1e9), test::builtin_plugins().registry());
  JepaModel tight(with_train(cfg, "clip_grad", 1e-3), test::builtin_plugins().registry());
  for (auto* m : {&plain, &loose, &tight}) m->set_schedules(schedules());
  const Batch b = make_batch(plain, 0, 4, 0, 1);
  plain.train_step(b, 0);
  const auto r = loose.train_step(b, 0, false, /*observe=*/true);
  ASSERT_TRUE(r.extra.count("grad_norm"));
  EXPECT_GT(r.extra.at("grad_norm"), 1e-3);
  for (const auto& [k, v] : plain.weights()) EXPECT_TRUE(at::equal(v, loose.weights().at(k))) << k;
  tight.train_step(b, 0);
  // AdamW normalises the step size, so compare the first moment the clipped gradients built: about clip/norm of it.
  const auto sp = plain.trainer_state(), st = tight.trainer_state();
  const at::Tensor mp = sp.at("opt.encoder.patch_embed.proj.weight.exp_avg"),
                   mt = st.at("opt.encoder.patch_embed.proj.weight.exp_avg");
  const double ratio = (mt.norm() / mp.norm()).item<double>();
  EXPECT_NEAR(ratio, 1e-3 / r.extra.at("grad_norm"), 1e-3 / r.extra.at("grad_norm") * 1e-3);
}
