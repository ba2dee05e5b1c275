#include <gtest/gtest.h>

#include <cmath>

#include <ATen/ATen.h>

#include "adamw_check.hpp"
#include "ijepa/host/build_config.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/config/json_file.hpp"
#include "ijepa/host/dist/launcher.hpp"
#include "ijepa/host/dist/process_group.hpp"
#include "ijepa/host/data/loader.hpp"
#include "ijepa/host/run/trainer.hpp"
#include "test_util.hpp"
#include "ijepa/host/util/cuda_info.hpp"
#include "ijepa/host/run/training_data.hpp"
#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/sdk/evaluator.hpp"

#if IJEPA_TORCH_HAS_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

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
  Loader loader(open_synthetic(64, 32, 4, 1), make_rank_masker(cpu.config(), test::builtin_plugins().registry(), 0).ptr, lo, 0);
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

// Nothing inside a training step waits for the GPU (the speed issue's item 1): with PyTorch's sync debug mode at
// "error", every synchronising call it instruments (item(), a blocking copy, a stream or device synchronize, nonzero,
// ...) throws. The first step runs outside the mode (handles, kernels and the allocator warm up); two more run inside.
TEST(CudaStep, ATrainingStepNeverWaitsForTheGpu) {
  if (!util::cuda_available()) GTEST_SKIP() << "no CUDA device";
#if IJEPA_TORCH_HAS_CUDA
  JepaModel gpu(resolved("cuda"), test::builtin_plugins().registry());
  Schedules s;
  s.total_steps = 10;
  gpu.set_schedules(s);
  DataLoaderOptions lo;
  lo.batch_size = 16;
  lo.image_size = 32;
  lo.workers = 1;
  lo.pin_memory = true;  // as the trainer's loader on CUDA
  Loader loader(open_synthetic(64, 32, 4, 1), make_rank_masker(gpu.config(), test::builtin_plugins().registry(), 0).ptr, lo, 0);
  std::vector<Batch> batches;
  for (std::int64_t i = 0; i < 3; ++i) batches.push_back(loader.make_batch(i));
  gpu.train_step(batches[0], 0);
  using c10::cuda::SyncDebugMode;
  struct Restore {
    ~Restore() { c10::cuda::warning_state().set_sync_debug_mode(SyncDebugMode::L_DISABLED); }
  } restore;
  std::vector<at::Tensor> losses;
  c10::cuda::warning_state().set_sync_debug_mode(SyncDebugMode::L_ERROR);
  for (std::int64_t i = 1; i < 3; ++i) {
    EXPECT_NO_THROW(losses.push_back(gpu.train_step(batches[static_cast<std::size_t>(i)], i).loss)) << "step " << i;
  }
  c10::cuda::warning_state().set_sync_debug_mode(SyncDebugMode::L_DISABLED);
  ASSERT_EQ(losses.size(), 2u);
  for (const at::Tensor& l : losses) EXPECT_TRUE(std::isfinite(l.item<double>()));
#else
  GTEST_SKIP() << "this build's torch has no CUDA";
#endif
}

// The closed-form probes on features that live on the GPU (ijepa.device_features/1): the same predictions as on
// the CPU, up to a few rows that float rounding may move.
TEST(CudaStep, ProbesOnGpuFeaturesAgreeWithTheCpu) {
  if (!util::cuda_available()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(5);
  const std::int64_t C = 10, F = 48, ntr = 4000, nte = 1000;
  const at::Tensor centres = 2.0 * at::randn({C, F});
  auto split = [&](std::int64_t n) {
    const at::Tensor y = at::randint(C, {n}, at::kLong);
    return sdk::FeatureSplit{centres.index_select(0, y) + 1.5 * at::randn({n, F}), y};
  };
  sdk::EvalInput cpu;
  cpu.train = split(ntr);
  cpu.test = split(nte);
  cpu.num_classes = C;
  cpu.seed = 7;
  sdk::EvalInput gpu = cpu;
  for (sdk::FeatureSplit* s : {&gpu.train, &gpu.test}) {
    s->features = s->features.to(at::kCUDA);
    s->labels = s->labels.to(at::kCUDA);
  }
  sdk::BuildContext ctx;
  ctx.encoder_dim = F;
  ctx.encoder_heads = 4;
  for (const char* type : {"linear_probe", "knn", "low_shot"}) {
    SCOPED_TRACE(type);
    const auto e = test::builtin_plugins().registry().make_evaluator({{"type", type}}, ctx, type);
    ASSERT_NE(e->capability(sdk::kDeviceFeaturesId), nullptr);
    const sdk::Metrics a = e.call([&](sdk::Evaluator& x) { return x.evaluate(cpu); });
    const sdk::Metrics b = e.call([&](sdk::Evaluator& x) { return x.evaluate(gpu); });
    const std::string top1 = std::string(type) == "low_shot" ? "top1_10pct" : "top1";
    EXPECT_GT(a.at(top1), 50.0);
    EXPECT_NEAR(b.at(top1), a.at(top1), 0.5) << "cpu " << a.at(top1) << " cuda " << b.at(top1);
  }
}
