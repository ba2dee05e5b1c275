// TensorBoard event files: the CRC-32C and framing against published values, the bytes of one event against a
// hand-encoded protocol buffer, and the files read back by TensorBoard's own reader (tensorboard package in the
// venv; skipped when it is missing), a resumed writer's purge included.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "host/run/test_util.hpp"
#include "ijepa/host/io/tfevents.hpp"

namespace fs = std::filesystem;
using namespace ijepa::host::io;

namespace {

fs::path tfevents_dir(const std::string& tag) {
  const fs::path d = fs::temp_directory_path() / ("ijepa_tbwriter_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST(TfEvents, Crc32cKnownValues) {
  // RFC 3720 (iSCSI) B.4 and the common check value of CRC-32C.
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283U);
  const std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAU);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43U);
  // A running sum equals the sum of the whole.
  EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xE3069283U);
}

TEST(TfEvents, RecordFraming) {
  const std::string data = "hello";
  const std::string r = tfrecord(data);
  ASSERT_EQ(r.size(), 8 + 4 + data.size() + 4);
  EXPECT_EQ(static_cast<unsigned char>(r[0]), 5);
  for (int i = 1; i < 8; ++i) EXPECT_EQ(r[static_cast<std::size_t>(i)], '\0');
  EXPECT_EQ(r.substr(12, 5), data);
  auto u32 = [&r](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(r[at + static_cast<std::size_t>(i)]);
    return v;
  };
  EXPECT_EQ(u32(8), masked_crc32c(r.data(), 8));
  EXPECT_EQ(u32(17), masked_crc32c(data.data(), data.size()));
  const std::uint32_t c = crc32c(data.data(), data.size());
  EXPECT_EQ(masked_crc32c(data.data(), data.size()), ((c >> 15) | (c << 17)) + 0xa282ead8U);
}

TEST(TfEvents, ScalarEventBytes) {
  // Event{wall_time: 2.0, step: 300, summary{value{tag: "a/b", simple_value: 1.5}}}, encoded by hand.
  const std::string e = event_scalars(2.0, 300, {{"a/b", 1.5}});
  const std::string want = std::string("\x09\x00\x00\x00\x00\x00\x00\x00\x40", 9) +  // 1: double 2.0
                           std::string("\x10\xac\x02", 3) +                       // 2: varint 300
                           std::string("\x2a\x0c", 2) +                           // 5: Summary, 12 bytes
                           std::string("\x0a\x0a", 2) +                           //   1: Value, 10 bytes
                           std::string("\x0a\x03" "a/b", 5) +                     //     1: tag
                           std::string("\x15\x00\x00\xc0\x3f", 5);                //     2: float 1.5
  EXPECT_EQ(e, want);
}

TEST(TfEvents, TensorBoardReadsTagsStepsAndValues) {
  const fs::path dir = tfevents_dir("read");
  {
    EventWriter w(dir);
    EXPECT_EQ(w.path().parent_path(), dir);
    EXPECT_NE(w.path().filename().string().find("tfevents"), std::string::npos);
    for (int step = 1; step <= 5; ++step) {
      w.scalars(step, {{"train/loss", 1.0 / step}, {"health/rank_target", 2.0 * step}});
    }
    w.scalars(5, {{"eval/knn/top1", 31.25}});
  }
  nlohmann::json got;
  std::string why;
  if (!ijepa::test::read_tfevents(dir, got, why)) GTEST_SKIP() << why;
  ASSERT_TRUE(got.contains("train/loss")) << got.dump();
  ASSERT_EQ(got["train/loss"].size(), 5U);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got["train/loss"][i][0].get<int>(), i + 1);
    EXPECT_FLOAT_EQ(got["train/loss"][i][1].get<float>(), static_cast<float>(1.0 / (i + 1)));
    EXPECT_FLOAT_EQ(got["health/rank_target"][i][1].get<float>(), static_cast<float>(2.0 * (i + 1)));
  }
  EXPECT_EQ(got["eval/knn/top1"], nlohmann::json::parse("[[5, 31.25]]"));
  fs::remove_all(dir);
}

TEST(TfEvents, AResumedWriterPurgesTheStepsItRewrites) {
  const fs::path dir = tfevents_dir("purge");
  {
    EventWriter first(dir);
    for (int step = 1; step <= 6; ++step) first.scalars(step, {{"train/loss", 10.0 + step}});
  }
  {
    EventWriter resumed(dir, 4);  // the run resumed from its step-4 checkpoint: steps 5.. are written again
    for (int step = 5; step <= 7; ++step) resumed.scalars(step, {{"train/loss", 20.0 + step}});
  }
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.path().filename().string().find("tfevents") != std::string::npos;
  EXPECT_EQ(files, 2);
  nlohmann::json got;
  std::string why;
  if (!ijepa::test::read_tfevents(dir, got, why)) GTEST_SKIP() << why;
  EXPECT_EQ(got["train/loss"], nlohmann::json::parse("[[1, 11], [2, 12], [3, 13], [5, 25], [6, 26], [7, 27]]"))
      << "steps >= 4 of the first file are purged; step 4 itself was never re-logged";
  fs::remove_all(dir);
}

TEST(TfEvents, UnwritableDirectoryNamesThePath) {
  const fs::path file = tfevents_dir("notadir");
  { std::ofstream(file) << "x"; }
  try {
    EventWriter w(file / "sub");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  fs::remove(file);
}
