// The screenshot tier: ijepa-viewer renders the mask lab for a fixed seed under Xvfb (Mesa llvmpipe) and saves a
// PNG; on a uniform grey image, the context and each target colour must appear in exactly the patch rectangles the
// viewer reports (PNG.json), and unmasked patches stay grey. Skipped when no display can be made.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "ijepa/host/data/dataset.hpp"

namespace fs = std::filesystem;

namespace {

// A 24-bit uncompressed TGA of one grey level (the viewer reads TGA through stb_image).
void write_grey_tga(const fs::path& p, int w, int h, unsigned char level) {
  std::ofstream out(p, std::ios::binary);
  const unsigned char header[18] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    static_cast<unsigned char>(w & 255), static_cast<unsigned char>(w >> 8),
                                    static_cast<unsigned char>(h & 255), static_cast<unsigned char>(h >> 8), 24, 0x20};
  out.write(reinterpret_cast<const char*>(header), 18);
  const std::string row(static_cast<std::size_t>(w) * 3, static_cast<char>(level));
  for (int y = 0; y < h; ++y) out.write(row.data(), static_cast<std::streamsize>(row.size()));
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(Screenshot, MaskColoursAppearInTheirPatchRectangles) {
  const fs::path d = fs::path(IJEPA_TEST_BINARY_DIR) / ("screenshot_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  write_grey_tga(d / "grey.tga", 256, 256, 128);
  const fs::path png = d / "mask.png";
  const std::string cmd = std::string("\"") + IJEPA_VIEWER_BIN + "\" --image \"" + (d / "grey.tga").string() +
                          "\" --panel mask --seed 7 --batch 3 --image-size 224 --patch-size 16 --size 1280x800 "
                          "--screenshot \"" + png.string() + "\" --frames 3 --timeout 120 > \"" +
                          (d / "viewer.log").string() + "\" 2>&1";
  const int status = std::system(cmd.c_str());
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 3) GTEST_SKIP() << "no display for an OpenGL 3.3 window: " << slurp(d / "viewer.log");
  ASSERT_EQ(rc, 0) << slurp(d / "viewer.log");

  const nlohmann::json info = nlohmann::json::parse(slurp(fs::path(png.string() + ".json")));
  ASSERT_TRUE(info.at("ready").get<bool>()) << info.dump();
  const at::Tensor img = ijepa::host::decode_image(slurp(png), png.string());  // [H, W, 3]
  ASSERT_EQ(img.size(0), 800);
  ASSERT_EQ(img.size(1), 1280);
  const auto rect = info.at("image_rect").get<std::vector<float>>();
  const auto grid = info.at("grid").get<std::vector<int>>();
  ASSERT_EQ(grid, (std::vector<int>{14, 14}));
  std::vector<int> where(196, -2);  // -2 unmasked, -1 context, t target t, -3 more than one
  auto mark = [&](std::int64_t id, int v) {
    int& w = where[static_cast<std::size_t>(id)];
    w = (w == -2) ? v : -3;
  };
  for (auto id : info.at("context").get<std::vector<std::int64_t>>()) mark(id, -1);
  const auto targets = info.at("targets").get<std::vector<std::vector<std::int64_t>>>();
  ASSERT_EQ(targets.size(), 4u);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    for (auto id : targets[t]) mark(id, static_cast<int>(t));
  }
  // The overlay colours (blue at alpha 0.35 for the context, target hues at alpha 0.5) over grey 128.
  const int palette[4][3] = {{255, 140, 0}, {0, 200, 70}, {230, 0, 230}, {255, 230, 0}};
  auto blend = [](int over, double a) { return 128.0 * (1 - a) + over * a; };
  const auto px = img.accessor<std::uint8_t, 3>();
  int checked[3] = {0, 0, 0};
  const float pw = (rect[2] - rect[0]) / 14.0f, ph = (rect[3] - rect[1]) / 14.0f;
  for (int id = 0; id < 196; ++id) {
    const int kind = where[static_cast<std::size_t>(id)];
    if (kind == -3) continue;
    const int x = static_cast<int>(rect[0] + (id % 14 + 0.5f) * pw), y = static_cast<int>(rect[1] + (id / 14 + 0.5f) * ph);
    double want[3];
    if (kind == -2) {
      want[0] = want[1] = want[2] = 128;
    } else if (kind == -1) {
      const double a = 89 / 255.0;
      want[0] = blend(0, a), want[1] = blend(0, a), want[2] = blend(255, a);
    } else {
      const double a = 128 / 255.0;
      for (int c = 0; c < 3; ++c) want[c] = blend(palette[kind][c], a);
    }
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(px[y][x][c], want[c], 6.0) << "patch " << id << " (kind " << kind << ") channel " << c << " at " << x
                                             << "," << y;
    }
    ++checked[kind == -2 ? 0 : (kind == -1 ? 1 : 2)];
  }
  EXPECT_GT(checked[0], 0);  // unmasked patches (the faithful sampler's last row and column at least)
  EXPECT_GT(checked[1], 0);  // context-only patches
  EXPECT_GT(checked[2], 0);  // single-target patches
}

// Hostile-input issue, item 15: a screenshot of a model that did not load is an error (exit 1), not a picture of
// an error message with exit 0.
TEST(Screenshot, AModelThatFailsToLoadIsANonZeroExit) {
  const fs::path d = fs::path(IJEPA_TEST_BINARY_DIR) / ("screenshot_bad_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  std::ofstream(d / "broken.safetensors") << "not a checkpoint";
  const fs::path png = d / "pred.png";
  const std::string cmd = std::string("\"") + IJEPA_VIEWER_BIN + "\" --run \"" + (d / "broken.safetensors").string() +
                          "\" --panel prediction --size 640x480 --screenshot \"" + png.string() +
                          "\" --frames 2 --timeout 60 > \"" + (d / "viewer.log").string() + "\" 2>&1";
  const int status = std::system(cmd.c_str());
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (rc == 3) GTEST_SKIP() << "no display for an OpenGL 3.3 window: " << slurp(d / "viewer.log");
  EXPECT_NE(rc, 0) << slurp(d / "viewer.log");
  EXPECT_NE(slurp(d / "viewer.log").find("error"), std::string::npos) << slurp(d / "viewer.log");
  fs::remove_all(d);
}
