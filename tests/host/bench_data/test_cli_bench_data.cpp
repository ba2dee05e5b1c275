// `ijepa bench data` through the built binary: images/s, the torchvision baseline's ratio, and one-line errors.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ijepa/host/build_config.hpp"
#include "host/run/test_util.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace fs = std::filesystem;

namespace {

using ijepa::test::run_cli;
std::size_t lines(const std::string& s) { return ijepa::test::count_lines(s); }

// A tiny image folder: 2 classes x 4 images (48x40), JPEG and PNG.
fs::path make_folder() {
  const fs::path root = fs::temp_directory_path() / ("ijepa_bench_data_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const int w = 48, h = 40;
  std::vector<unsigned char> px(static_cast<std::size_t>(w * h * 3));
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(root / ("class" + std::to_string(c)));
    for (int i = 0; i < 4; ++i) {
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int ch = 0; ch < 3; ++ch)
            px[static_cast<std::size_t>((y * w + x) * 3 + ch)] = static_cast<unsigned char>((x * 5 + y * 3 + ch * 70 + i * 20 + c * 90) % 256);
      const fs::path f = root / ("class" + std::to_string(c)) / ("img" + std::to_string(i) + (i % 2 ? ".png" : ".jpg"));
      const int ok = i % 2 ? stbi_write_png(f.c_str(), w, h, 3, px.data(), w * 3)
                           : stbi_write_jpg(f.c_str(), w, h, 3, px.data(), 90);
      EXPECT_NE(ok, 0) << f;
    }
  }
  return root;
}

}  // namespace

TEST(BenchDataCli, SyntheticPrintsImagesPerSecond) {
  std::string out;
  ASSERT_EQ(run_cli("bench data --source synthetic --image-size 32 --workers 1 --seconds 1", &out), 0) << out;
  EXPECT_NE(out.find("C++ loader"), std::string::npos) << out;
  EXPECT_NE(out.find("images/s"), std::string::npos) << out;
}

TEST(BenchDataCli, SyntheticWithMasks) {
  std::string out;
  ASSERT_EQ(run_cli("bench data --source synthetic --image-size 64 --workers 1 --batches 3 --batch 8 --masks --patch 4",
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("masks multiblock"), std::string::npos) << out;
  EXPECT_NE(out.find("images/s"), std::string::npos) << out;
}

TEST(BenchDataCli, BaselineNotApplicableToSynthetic) {
  std::string out;
  ASSERT_EQ(run_cli("bench data --source synthetic --image-size 32 --workers 1 --batches 2 --batch 8 "
                    "--baseline torchvision",
                    &out),
            0)
      << out;
  EXPECT_NE(out.find("not applicable"), std::string::npos) << out;
  EXPECT_EQ(out.find("C++/torchvision"), std::string::npos) << out;
}

TEST(BenchDataCli, TorchvisionBaselinePrintsRatio) {
  if (std::string(IJEPA_PYTHON_EXE).empty() || !fs::exists(IJEPA_PYTHON_EXE)) GTEST_SKIP() << "no Python configured";
  const fs::path root = make_folder();
  std::string out;
  const int rc = run_cli("bench data --source image_folder --root " + root.string() +
                             " --image-size 32 --workers 1 --batch 4 --batches 3 --warmup 1 --baseline torchvision",
                         &out);
  fs::remove_all(root);
  ASSERT_EQ(rc, 0) << out;
  const auto pos = out.find("C++/torchvision images/s = ");
  ASSERT_NE(pos, std::string::npos) << out;
  EXPECT_GT(std::stod(out.substr(pos + 27)), 0.0) << out;
  EXPECT_NE(out.find("torchvision    : "), std::string::npos) << out;
}

TEST(BenchDataCli, BadInputIsOneLineError) {
  for (const std::string args : {"bench data --source nope --image-size 32 --workers 1",
                                 "bench data --source synthetic --image-size 0 --workers 1",
                                 "bench data --source synthetic --image-size 32 --workers 0",
                                 "bench data --source synthetic --image-size 32 --workers 1 --baseline pytorch",
                                 "bench data --image-size 32 --workers 1"}) {
    std::string out;
    EXPECT_NE(run_cli(args, &out), 0) << args << "\n" << out;
    EXPECT_EQ(lines(out), 1u) << args << "\n" << out;
    EXPECT_EQ(out.rfind("ijepa bench: ", 0), 0u) << args << "\n" << out;
  }
}
