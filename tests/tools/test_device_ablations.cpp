// tools/device_ablations.sh at CI size (`cpu` mode): the flow the GPU machine runs (derived sweep files with the
// seeds, `ijepa sweep --jobs 2` over CIFAR-10 through the decoded cache, `ijepa report` with paired differences
// against the multi-block trials, the summaries and the timing copied to $OUT), with 3 steps per trial.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "host/run/test_util.hpp"

namespace fs = std::filesystem;
using namespace ijepa;

namespace {

bool cifar_archive_found() {
  if (const char* env = std::getenv("IJEPA_DATASETS_DIR"); env != nullptr && fs::exists(fs::path(env) / "cifar10-jpeg.tar.gz"))
    return true;
  for (fs::path p = fs::absolute(IJEPA_REPO);; p = p.parent_path()) {
    if (fs::exists(p / "shared" / "datasets" / "cifar10-jpeg.tar.gz")) return true;
    if (p == p.parent_path()) return false;
  }
}

std::size_t jsonl_records(const fs::path& f) {
  std::size_t n = 0;
  const std::string text = test::read_text(f);
  for (std::size_t b = 0, e; b < text.size(); b = e + 1) {
    e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    if (e > b) {
      const auto j = nlohmann::json::parse(text.substr(b, e - b));
      EXPECT_EQ(j.value("state", ""), "completed") << j.dump();
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST(DeviceAblations, CpuModeRunsBothTablesAndReportsPairedDifferences) {
  if (!cifar_archive_found()) GTEST_SKIP() << "cifar10-jpeg.tar.gz not found (shared/datasets)";
  const fs::path tmp = test::temp_dir("device_ablations");
  const fs::path out = tmp / "out";
  std::string log;
  const int rc = test::run_shell("OUT=" + out.string() + " DEVICE_CHECK_SCRATCH=" + (tmp / "scratch").string() +
                                     " ABL_BIN=" + std::string(IJEPA_BIN_DIR) + " bash " + IJEPA_REPO +
                                     "/tools/device_ablations.sh cpu",
                                 &log);
  ASSERT_EQ(rc, 0) << log;
  EXPECT_NE(log.find("== device ablations (cpu, "), std::string::npos) << log;
  // At most 8 files come back from the device: everything else travels in extras.tar.gz.
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(out)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_LE(files, 8u);
  const fs::path extras = tmp / "extras";
  fs::create_directories(extras);
  ASSERT_EQ(test::run_shell("tar -xzf " + (out / "extras.tar.gz").string() + " -C " + extras.string()), 0);
  // Table 6: 4 maskers x 2 seeds, every trial completed, with both probes and their random-init baselines.
  ASSERT_TRUE(fs::exists(extras / "t6" / "summary.jsonl")) << log;
  EXPECT_EQ(jsonl_records(extras / "t6" / "summary.jsonl"), 8u);
  const std::string t6 = test::read_text(out / "t6" / "report.txt");
  EXPECT_NE(t6.find("Paired differences against"), std::string::npos) << t6;
  for (const char* m : {"rasterized", "block", "random"}) EXPECT_NE(t6.find(m), std::string::npos) << m;
  EXPECT_NE(t6.find("linear_probe"), std::string::npos) << t6;
  // The paper's six pairwise orderings of Table 6, each judged (two seeds here: intervals, mostly undecided).
  EXPECT_NE(t6.find("## Orderings"), std::string::npos) << t6;
  EXPECT_NE(t6.find("Of 6 claims: "), std::string::npos) << t6;
  EXPECT_NE(t6.find("| `masker=multiblock` > `masker=block` | 2 |"), std::string::npos) << t6;
  EXPECT_NE(test::read_text(out / "t6" / "summary.csv").find("knn"), std::string::npos);
  // Table 8: 6 target scales x 1 seed.
  ASSERT_TRUE(fs::exists(extras / "t8" / "summary.jsonl")) << log;
  EXPECT_EQ(jsonl_records(extras / "t8" / "summary.jsonl"), 6u);
  EXPECT_TRUE(fs::exists(out / "t8" / "summary_grouped.csv"));
  // Table 8's nine claims (peak, rise, fall, worst); one seed: every one undecided.
  const std::string t8 = test::read_text(out / "t8" / "report.txt");
  EXPECT_NE(t8.find("Of 9 claims: 0 hold, 0 fail, 0 mixed, 9 undecided; with Holm's correction over the 0 tests"),
            std::string::npos)
      << t8;
  // The wall-time split and the sweeps' own logs come back.
  const std::string timing = test::read_text(out / "timing.txt");
  for (const char* k : {"build:", "t6 sweep:", "t6 report:", "t8 sweep:", "t8 report:", "total:"})
    EXPECT_NE(timing.find(k), std::string::npos) << k << "\n" << timing;
  EXPECT_NE(test::read_text(extras / "t6" / "sweep.log").find("2 at a time"), std::string::npos);
  fs::remove_all(tmp);
}

// tools/device_check.sh's whole-loop stage (`loop-cpu`): `ijepa train` on CIFAR-10 (ViT-Tiny/4) and on synthetic
// 224 px images (ViT-B/16) with the real loader, each against `ijepa bench train`'s step alone; a few steps each.
TEST(DeviceCheck, WholeLoopStageComparesTrainWithTheStepAlone) {
  if (!cifar_archive_found()) GTEST_SKIP() << "cifar10-jpeg.tar.gz not found (shared/datasets)";
  const fs::path tmp = test::temp_dir("device_loop");
  const fs::path keep = tmp / "keep";
  fs::create_directories(keep);
  std::string log;
  const int rc = test::run_shell("DEVICE_CHECK_SCRATCH=" + (tmp / "scratch").string() + " bash " + IJEPA_REPO +
                                     "/tools/device_check.sh loop-cpu " + IJEPA_BIN_DIR + " " + keep.string(),
                                 &log);
  ASSERT_EQ(rc, 0) << log;
  const std::string table = test::read_text(keep / "whole_loop.txt");
  for (const char* run : {"whole_loop_cifar10_tiny: whole loop ", "whole_loop_vit_b16_synthetic: whole loop "}) {
    const auto pos = table.find(run);
    ASSERT_NE(pos, std::string::npos) << run << "\n" << table << log;
    const std::string line = table.substr(pos, table.find('\n', pos) - pos);
    EXPECT_GT(std::stod(line.substr(std::string(run).size())), 0.0) << line;  // the loop's images/s
    const auto ratio = line.find("loop/step ");
    ASSERT_NE(ratio, std::string::npos) << line;
    EXPECT_GT(std::stod(line.substr(ratio + 10)), 0.0) << line;  // a number, so the step rate was read too
  }
  // The same two runs as records for tools/device_table.py.
  std::size_t records = 0;
  const std::string jsonl = test::read_text(keep / "whole_loop.jsonl");
  for (std::size_t b = 0, e; b < jsonl.size(); b = e + 1) {
    e = jsonl.find('\n', b);
    if (e == std::string::npos) e = jsonl.size();
    if (e == b) continue;
    const auto j = nlohmann::json::parse(jsonl.substr(b, e - b));
    EXPECT_GT(j.at("loop_images_per_s").get<double>(), 0.0) << j.dump();
    EXPECT_GT(j.at("step_images_per_s").get<double>(), 0.0) << j.dump();
    ++records;
  }
  EXPECT_EQ(records, 2u) << jsonl;
  // What the GPU run would bring back from this folder (tools/device_check.sh's ship): at most 8 files, the records
  // and the logs as archives.
  const fs::path shipped = tmp / "out";
  ASSERT_EQ(test::run_shell("cd " + std::string(IJEPA_REPO) + " && bash -c 'source tools/device_check.sh && ship " +
                                keep.string() + " " + shipped.string() + "'",
                            &log),
            0)
      << log;
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(shipped)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_LE(files, 8u);
  EXPECT_EQ(test::read_text(shipped / "whole_loop.txt"), table);
  std::string listing;
  ASSERT_EQ(test::run_shell("tar -tzf " + (shipped / "records.tar.gz").string() + " && tar -tzf " +
                                (shipped / "logs.tar.gz").string(),
                            &listing),
            0)
      << listing;
  for (const char* f : {"whole_loop.jsonl", "whole_loop_cifar10_tiny.log", "whole_loop_vit_b16_synthetic.log"})
    EXPECT_NE(listing.find(f), std::string::npos) << f << "\n" << listing;
  fs::remove_all(tmp);
}
