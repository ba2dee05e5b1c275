#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "adamw_check.hpp"
#include "config/experiment.hpp"
#include "config/json_file.hpp"
#include "dist/launcher.hpp"
#include "dist/process_group.hpp"
#include "data/loader.hpp"
#include "run/trainer.hpp"
#include "test_util.hpp"
#include "util/cuda_info.hpp"

using namespace ijepa;
using namespace ijepa::host;

namespace {
nlohmann::json resolved(const std::string& device) {
  nlohmann::json cfg = test::tiny_experiment();
  cfg["train"]["device"] = device;
  cfg["components"]["encoder"]["embed_dim"] = 64;
  cfg["components"]["encoder"]["num_heads"] = 4;
  auto dir = test::temp_dir("cuda");
  test::write_text(dir / "e.json", cfg.dump());
  auto r = resolve_experiment(load_layered(dir / "e.json"), {}, test::builtin_plugins().registry(), "e.json");
  std::filesystem::remove_all(dir);
  return r;
}
}  // namespace

TEST(CudaStep, Bf16LossMatchesFp32CpuLossWithinOnePercent) {
  if (!util::cuda_available()) GTEST_SKIP() << "no CUDA device";
  JepaModel cpu(resolved("cpu"), test::builtin_plugins().registry());
  JepaModel gpu(resolved("cuda"), test::builtin_plugins().registry());
  gpu.load(cpu.weights(), cpu.trainer_state(), 0, "cpu model");
  DataLoaderOptions lo;
  lo.batch_size = 16;
  lo.image_size = 32;
  lo.workers = 1;
  Loader loader(open_synthetic(64, 32, 4, 1), cpu.masker().ptr, lo, 0);
  const Batch b = loader.make_batch(0);
  const double l_cpu = cpu.eval_loss(b.images, b.masks);
  const double l_gpu = gpu.eval_loss(b.images, b.masks);
  EXPECT_NEAR(l_gpu, l_cpu, 1e-2 * std::abs(l_cpu)) << "cpu " << l_cpu << " cuda/bf16 " << l_gpu;
  // and a whole training step runs on the GPU with a finite loss
  Schedules s;
  s.total_steps = 10;
  gpu.set_schedules(s);
  const auto r = gpu.train_step(b, 0);
  EXPECT_TRUE(std::isfinite(r.loss_value()));
}

TEST(CudaStep, FusedAdamWMatchesUnfused) {
  if (!util::cuda_available()) GTEST_SKIP() << "no CUDA device";
  test::fused_adamw_matches_unfused(at::Device(at::kCUDA));
}

// NCCL on the GPU with one rank (the lent machine has one GPU): the group forms, a CUDA all-reduce and a host
// scalar's all-reduce (through the GPU and back) return the input, a broadcast keeps it.
TEST(CudaStep, NcclOneRankCollectives) {
  if (!util::cuda_available()) GTEST_SKIP() << "no CUDA device";
  if (distributed_backends().find("nccl") == std::string::npos) GTEST_SKIP() << "this build has no NCCL";
  DistEnv e;
  e.master_port = free_tcp_port();
  auto pg = ProcessGroup::connect(e, "nccl", std::chrono::seconds(60));
  const at::Tensor g = at::arange(1, 7, at::TensorOptions().dtype(at::kFloat).device(at::kCUDA));
  pg->allreduce_sum(g, "test all-reduce");
  EXPECT_TRUE(at::equal(g.cpu(), at::arange(1, 7, at::kFloat)));
  const at::Tensor h = at::full({1}, 2.5, at::TensorOptions().dtype(at::kDouble));
  pg->allreduce_sum(h, "test host all-reduce");
  EXPECT_EQ(h.item<double>(), 2.5);
  pg->broadcast({g}, 0, "test broadcast");
  EXPECT_TRUE(at::equal(g.cpu(), at::arange(1, 7, at::kFloat)));
}
