// Decoding (JPEG RGB / grey / CMYK, PNG), DCT-scaled decoding with a crop plan, and the transforms.
#include <gtest/gtest.h>

#include <cmath>

#include <ATen/ATen.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/rng.hpp"
#include "ijepa/host/data/transforms.hpp"
#include "fixtures.hpp"

using namespace ijepa;
using namespace ijepa::host;

namespace {

CropPlan fixed(CropBox box) {
  return [box](std::int64_t, std::int64_t) { return box; };
}

}  // namespace

TEST(Decode, RgbJpeg) {
  const at::Tensor src = test::pattern_rgb(48, 64);
  const at::Tensor img = decode_image(test::encode_jpeg(src), "rgb.jpg");
  ASSERT_EQ(img.sizes(), src.sizes());
  EXPECT_EQ(img.scalar_type(), at::kByte);
  EXPECT_LT(test::mean_abs_diff(img, src), 3.0);
}

TEST(Decode, GreyJpegBecomesRgb) {
  const at::Tensor grey = test::pattern_rgb(40, 56).select(2, 0).unsqueeze(-1).contiguous();
  const at::Tensor img = decode_image(test::encode_jpeg(grey), "grey.jpg");
  ASSERT_EQ(img.sizes(), (std::vector<std::int64_t>{40, 56, 3}));
  EXPECT_TRUE(at::equal(img.select(2, 0), img.select(2, 1)));
  EXPECT_TRUE(at::equal(img.select(2, 0), img.select(2, 2)));
  EXPECT_LT(test::mean_abs_diff(img.select(2, 0), grey.squeeze(-1)), 3.0);
}

TEST(Decode, CmykJpegBecomesRgb) {
  // Adobe (inverted) CMYK as PIL reads it: stored (r, g, b, 255) means RGB (r, g, b).
  const at::Tensor rgb = test::pattern_rgb(32, 40);
  const at::Tensor cmyk = at::cat({rgb, at::full({32, 40, 1}, 255, at::kByte)}, 2);
  const std::string bytes = test::encode_jpeg(cmyk);
  const at::Tensor img = decode_image(bytes, "cmyk.jpg");
  ASSERT_EQ(img.sizes(), rgb.sizes());
  EXPECT_LT(test::mean_abs_diff(img, rgb), 4.0);
  // The cropped path too.
  const CroppedImage c = decode_image_cropped(bytes, "cmyk.jpg", fixed({0, 0, 32, 40}), 8);
  EXPECT_LT(c.scale_num, c.scale_denom);
  ASSERT_EQ(c.pixels.size(2), 3);
  EXPECT_NEAR(c.pixels.to(at::kFloat).mean().item<double>(), rgb.to(at::kFloat).mean().item<double>(), 4.0);
}

TEST(Decode, PngExact) {
  const at::Tensor src = test::pattern_rgb(20, 30);
  EXPECT_TRUE(at::equal(decode_image(test::encode_png(src), "a.png"), src));
  const at::Tensor grey = src.select(2, 1).unsqueeze(-1).contiguous();
  const at::Tensor g = decode_image(test::encode_png(grey), "g.png");
  ASSERT_EQ(g.size(2), 3);
  EXPECT_TRUE(at::equal(g.select(2, 2), grey.squeeze(-1)));
}

TEST(Decode, GarbageEmptyAndTruncatedThrow) {
  EXPECT_THROW(decode_image("", "zero.jpg"), DataError);
  EXPECT_THROW(decode_image("hello, not an image", "text.jpg"), DataError);
  const std::string jpeg = test::encode_jpeg(test::pattern_rgb(64, 64));
  EXPECT_THROW(decode_image(jpeg.substr(0, jpeg.size() / 2), "half.jpg"), DataError);
  std::string corrupt = jpeg.substr(0, 4) + std::string(600, '\x5a');
  EXPECT_THROW(decode_image(corrupt, "corrupt.jpg"), DataError);
  try {
    decode_image(jpeg.substr(0, jpeg.size() / 2), "dir/half.jpg");
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("dir/half.jpg"), std::string::npos) << e.what();
  }
}

TEST(Decode, DctScaledCropMatchesFullDecode) {
  const at::Tensor src = test::pattern_rgb(384, 512);
  const std::string bytes = test::encode_jpeg(src, 95);
  const CropBox box{40, 64, 256, 320};
  const std::int64_t out = 64;
  const CroppedImage full = decode_image_cropped(bytes, "a.jpg", fixed(box), 0);
  EXPECT_EQ(full.scale_num, full.scale_denom);
  EXPECT_EQ(full.pixels.size(0), 384);
  const CroppedImage scaled = decode_image_cropped(bytes, "a.jpg", fixed(box), out);
  // The largest reduction keeping the crop >= 64 px: 256 * 2/8 = 64.
  EXPECT_EQ(scaled.scale_num * 4, scaled.scale_denom);
  EXPECT_EQ(scaled.pixels.size(0), 96);
  EXPECT_EQ(scaled.pixels.size(1), 128);
  EXPECT_GE(scaled.box.height, out);
  EXPECT_GE(scaled.box.width, out);
  const at::Tensor a = crop_resize_normalize(full.pixels, full.box, out, false);
  const at::Tensor b = crop_resize_normalize(scaled.pixels, scaled.box, out, false);
  // Normalised units (1 / 0.225 per unit of [0, 1]): 0.05 is about 3 grey levels.
  EXPECT_LT(test::mean_abs_diff(a, b), 0.05);
  // Deterministic.
  const CroppedImage again = decode_image_cropped(bytes, "a.jpg", fixed(box), out);
  EXPECT_TRUE(at::equal(again.pixels, scaled.pixels));
  // A crop smaller than the output is decoded at full size (it will be upsampled).
  const CroppedImage small = decode_image_cropped(bytes, "a.jpg", fixed({0, 0, 50, 50}), out);
  EXPECT_EQ(small.scale_num, small.scale_denom);
  EXPECT_EQ(small.box.height, 50);
}

TEST(Decode, PlanSeesFullResolutionOnly) {
  const std::string bytes = test::encode_jpeg(test::pattern_rgb(200, 300));
  std::vector<std::pair<std::int64_t, std::int64_t>> seen;
  const CropPlan plan = [&](std::int64_t h, std::int64_t w) {
    seen.emplace_back(h, w);
    return CropBox{0, 0, h, w};
  };
  decode_image_cropped(bytes, "a.jpg", plan, 0);
  decode_image_cropped(bytes, "a.jpg", plan, 16);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(std::int64_t{200}, std::int64_t{300}));
  EXPECT_EQ(seen[1], seen[0]);
}

TEST(Decode, MapCropStaysInside) {
  const CropBox m = map_crop({7, 9, 101, 77}, 3, 8, 75, 113);
  EXPECT_GE(m.top, 0);
  EXPECT_GE(m.left, 0);
  EXPECT_LE(m.top + m.height, 75);
  EXPECT_LE(m.left + m.width, 113);
  EXPECT_NEAR(static_cast<double>(m.height), 101 * 3.0 / 8, 1.0);
  EXPECT_NEAR(static_cast<double>(m.width), 77 * 3.0 / 8, 1.0);
}

TEST(Transforms, RandomResizedCropRanges) {
  for (auto [h, w] : {std::pair<std::int64_t, std::int64_t>{300, 200}, {224, 224}, {64, 500}}) {
    int fallbacks = 0;
    for (std::uint64_t i = 0; i < 2000; ++i) {
      SampleRng rng(mix_seed(7, i));
      const CropBox b = random_resized_crop_box(h, w, 0.3, 1.0, 3.0 / 4.0, 4.0 / 3.0, rng);
      ASSERT_GE(b.top, 0);
      ASSERT_GE(b.left, 0);
      ASSERT_LE(b.top + b.height, h);
      ASSERT_LE(b.left + b.width, w);
      const double area = static_cast<double>(b.height * b.width) / static_cast<double>(h * w);
      const double ratio = static_cast<double>(b.width) / static_cast<double>(b.height);
      const bool centre = b.top == (h - b.height) / 2 && b.left == (w - b.width) / 2;
      if (area < 0.29 || ratio < 0.74 || ratio > 1.35) {
        ASSERT_TRUE(centre) << h << "x" << w << " draw " << i;  // the torchvision fallback
        ++fallbacks;
        continue;
      }
      ASSERT_LE(area, 1.0);
      // rounding of w and h moves area and ratio by a little
      ASSERT_GE(ratio, 0.75 - 2.0 / static_cast<double>(b.height));
      ASSERT_LE(ratio, 4.0 / 3.0 + 2.0 / static_cast<double>(b.height));
    }
    if (h == 224) {
      EXPECT_LT(fallbacks, 5);
    }
  }
}

TEST(Transforms, EvalResizeThenCentreCrop) {
  EXPECT_EQ(eval_resize_size(224), 256);
  EXPECT_EQ(eval_resize_size(32), 37);
  // A 100x200 image with a vertical stripe in its middle: the stripe stays centred.
  at::Tensor img = at::zeros({100, 200, 3}, at::kByte);
  img.narrow(1, 96, 8).fill_(255);
  const at::Tensor out = eval_transform(img, 32);
  ASSERT_EQ(out.sizes(), (std::vector<std::int64_t>{3, 32, 32}));
  // 100 -> 37 (scale 0.37): the stripe is ~3 px wide at x ~ 37 - 2 of the 74 px row, cropped at 21 -> centred.
  const at::Tensor row = out[0][16];
  const std::int64_t peak = row.argmax().item<std::int64_t>();
  EXPECT_NEAR(static_cast<double>(peak), 15.5, 1.6);
  // A constant image stays constant after normalisation.
  const at::Tensor c = eval_transform(at::full({50, 60, 1}, 128, at::kByte), 32);
  ASSERT_EQ(c.size(0), 3);
  EXPECT_LT((c[0] - c[0][0][0]).abs().max().item<float>(), 1e-5);
  EXPECT_NEAR(c[0][0][0].item<float>(), (128.0f / 255.0f - 0.485f) / 0.229f, 1e-4);
}
