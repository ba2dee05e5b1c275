// PixelLoss (plugins/loss_pixel, paper Table 7), compiled into the test: patch order, the MAE normalisation,
// the mask-major row order, loss values and gradients against a hand-written reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "pixel_loss.hpp"

namespace px = ijepa::plugins::loss_pixel;
namespace sdk = ijepa::sdk;

namespace {

// The patch `id` of image b, by hand: (pixel row, pixel column, channel), channel fastest; optionally
// normalised by its mean and unbiased variance (+ eps).
std::vector<double> hand_patch(const at::Tensor& images, std::int64_t b, std::int64_t id, std::int64_t p, bool norm,
                               double eps) {
  const std::int64_t c = images.size(1), w = images.size(3) / p;
  const std::int64_t row = id / w, col = id % w;
  const at::Tensor img = images.to(at::kDouble).contiguous();
  const auto a = img.accessor<double, 4>();
  std::vector<double> v;
  for (std::int64_t y = 0; y < p; ++y)
    for (std::int64_t x = 0; x < p; ++x)
      for (std::int64_t ch = 0; ch < c; ++ch) v.push_back(a[b][ch][row * p + y][col * p + x]);
  if (norm) {
    double mean = 0;
    for (double e : v) mean += e;
    mean /= static_cast<double>(v.size());
    double ss = 0;
    for (double e : v) ss += (e - mean) * (e - mean);
    const double var = ss / static_cast<double>(v.size() - 1);
    for (double& e : v) e = (e - mean) / std::sqrt(var + eps);
  }
  return v;
}

// The reference target [npred*nenc*B, K, p*p*C]: row i*(nenc*B) + e*B + b holds target mask i of image b
// (ijepa-spec.md 4), the same for every context mask e.
at::Tensor hand_targets(const at::Tensor& images, std::int64_t p, std::size_t nenc, const std::vector<at::Tensor>& tgt,
                        bool norm, double eps) {
  const std::int64_t batch = images.size(0), k = tgt[0].size(1);
  const std::int64_t dim = p * p * images.size(1);
  const auto rows = static_cast<std::int64_t>(tgt.size() * nenc) * batch;
  at::Tensor out = at::zeros({rows, k, dim}, at::kDouble);
  auto o = out.accessor<double, 3>();
  for (std::size_t i = 0; i < tgt.size(); ++i)
    for (std::size_t e = 0; e < nenc; ++e)
      for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t j = 0; j < k; ++j) {
          const auto row = static_cast<std::int64_t>(i * nenc + e) * batch + b;
          const auto v = hand_patch(images, b, tgt[i][b][j].item<std::int64_t>(), p, norm, eps);
          for (std::int64_t d = 0; d < dim; ++d) o[row][j][d] = v[static_cast<std::size_t>(d)];
        }
  return out.to(at::kFloat);
}

px::PixelLossOptions options(px::Distance d = px::Distance::l2, bool norm = true) {
  px::PixelLossOptions o;
  o.distance = d;
  o.norm_pix = norm;
  return o;
}

// 2 images 3x8x8, 4 px patches (2x2 grid); 2 context masks and 2 target masks of 2 patches each.
struct Fixture {
  at::Tensor images = at::randn({2, 3, 8, 8}, at::TensorOptions().dtype(at::kFloat));
  std::vector<at::Tensor> ctx{at::tensor({0, 1, 2, 3}, at::kLong).reshape({2, 2}),
                              at::tensor({1, 2, 0, 2}, at::kLong).reshape({2, 2})};
  std::vector<at::Tensor> tgt{at::tensor({2, 3, 1, 3}, at::kLong).reshape({2, 2}),
                              at::tensor({0, 3, 0, 1}, at::kLong).reshape({2, 2})};
  sdk::LossInput input(const at::Tensor& prediction) const {
    sdk::LossInput in;
    in.prediction = prediction;
    in.images = images;
    in.masks_ctx = &ctx;
    in.masks_tgt = &tgt;
    in.patch_size = 4;
    return in;
  }
};

}  // namespace

TEST(PixelLoss, PatchifyMatchesTheHandOrder) {
  at::manual_seed(0);
  const at::Tensor img = at::randn({2, 3, 8, 12});  // 2x3 grid of 4 px patches
  const at::Tensor p = px::patchify(img, 4);
  ASSERT_EQ(p.sizes(), (at::IntArrayRef{2, 6, 48}));
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t n = 0; n < 6; ++n) {
      const auto v = hand_patch(img, b, n, 4, false, 0.0);
      for (std::int64_t d = 0; d < 48; ++d)
        ASSERT_FLOAT_EQ(p[b][n][d].item<float>(), static_cast<float>(v[static_cast<std::size_t>(d)])) << b << " " << n;
    }
  EXPECT_THROW(px::patchify(img, 5), std::invalid_argument);
  EXPECT_THROW(px::patchify(img[0], 4), std::invalid_argument);
}

TEST(PixelLoss, TargetsFollowTheMaskMajorRowOrder) {
  at::manual_seed(1);
  const Fixture f;
  for (bool norm : {true, false}) {
    const at::Tensor t = px::pixel_targets(f.images, 4, f.ctx, f.tgt, norm, 1e-6);
    ASSERT_EQ(t.sizes(), (at::IntArrayRef{8, 2, 48}));
    EXPECT_TRUE(at::allclose(t, hand_targets(f.images, 4, 2, f.tgt, norm, 1e-6), 1e-5, 1e-5)) << "norm_pix " << norm;
  }
  const at::Tensor t = px::pixel_targets(f.images, 4, f.ctx, f.tgt, true, 1e-6);
  EXPECT_TRUE(at::allclose(t.mean(-1), at::zeros({8, 2}), 1e-5, 1e-5)) << "normalised patches have mean 0";
  EXPECT_TRUE(at::allclose(t.var(-1), at::ones({8, 2}), 1e-4, 1e-4)) << "and unbiased variance 1";
}

TEST(PixelLoss, LossAndGradientMatchTheReference) {
  at::manual_seed(2);
  const Fixture f;
  for (auto d : {px::Distance::l2, px::Distance::smooth_l1}) {
    for (bool norm : {true, false}) {
      px::PixelLossOptions o = options(d, norm);
      o.beta = 0.5;
      px::PixelLoss loss(o);
      const at::Tensor z = at::randn({8, 2, 48}).requires_grad_(true);
      const at::Tensor out = loss.compute(f.input(z)).loss;
      ASSERT_EQ(out.dim(), 0);
      out.backward();
      const at::Tensor t = hand_targets(f.images, 4, 2, f.tgt, norm, 1e-6).to(at::kDouble);
      const at::Tensor diff = z.detach().to(at::kDouble) - t;
      const double n = static_cast<double>(diff.numel());
      at::Tensor ref_loss, ref_grad;
      if (d == px::Distance::l2) {
        ref_loss = (diff * diff).sum() / n;
        ref_grad = 2.0 * diff / n;
      } else {
        const at::Tensor small = diff.abs() < o.beta;
        ref_loss = at::where(small, 0.5 * diff * diff / o.beta, diff.abs() - 0.5 * o.beta).sum() / n;
        ref_grad = at::where(small, diff / o.beta, diff.sign()) / n;
      }
      EXPECT_NEAR(out.item<double>(), ref_loss.item<double>(), 1e-5) << "norm_pix " << norm;
      EXPECT_TRUE(at::allclose(z.grad().to(at::kDouble), ref_grad, 1e-5, 1e-7)) << "norm_pix " << norm;
    }
  }
}

TEST(PixelLoss, ZeroWhenThePredictionIsTheTargetAndNormPixMatters) {
  at::manual_seed(3);
  const Fixture f;
  const at::Tensor raw = hand_targets(f.images, 4, 2, f.tgt, false, 1e-6);
  const at::Tensor normed = hand_targets(f.images, 4, 2, f.tgt, true, 1e-6);
  for (auto d : {px::Distance::l2, px::Distance::smooth_l1}) {
    px::PixelLoss with_norm(options(d, true)), without(options(d, false));
    EXPECT_NEAR(with_norm.compute(f.input(normed)).loss.item<double>(), 0.0, 1e-10);
    EXPECT_NEAR(without.compute(f.input(raw)).loss.item<double>(), 0.0, 1e-10);
    EXPECT_GT(with_norm.compute(f.input(raw)).loss.item<double>(), 1e-3) << "norm_pix on: raw pixels are not it";
    EXPECT_GT(without.compute(f.input(normed)).loss.item<double>(), 1e-3) << "norm_pix off: normalised are not";
  }
  // The eps guards a constant patch: its normalised target is 0, not NaN.
  Fixture flat;
  flat.images = at::full({2, 3, 8, 8}, 0.25);
  px::PixelLoss loss(options());
  const at::Tensor v = loss.compute(flat.input(at::zeros({8, 2, 48}))).loss;
  EXPECT_NEAR(v.item<double>(), 0.0, 1e-10);
}

TEST(PixelLoss, WidthAndInputChecks) {
  px::PixelLoss loss(options());
  EXPECT_FALSE(loss.needs_target_encoder());
  EXPECT_EQ(loss.capability("ijepa.mask_stats/1"), nullptr);
  sdk::BuildContext ctx;
  ctx.patch_size = 16;
  ctx.in_chans = 3;
  EXPECT_EQ(loss.prediction_dim(ctx), 768);
  ctx.patch_size = 4;
  EXPECT_EQ(loss.prediction_dim(ctx), 48);
  ctx.patch_size = 0;
  EXPECT_THROW(loss.prediction_dim(ctx), std::invalid_argument);

  const Fixture f;
  try {
    (void)loss.compute(f.input(at::zeros({8, 2, 32})));
    FAIL() << "expected a shape error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("output_dim"), std::string::npos) << e.what();
  }
  sdk::LossInput no_images = f.input(at::zeros({8, 2, 48}));
  no_images.images = at::Tensor();
  EXPECT_THROW(loss.compute(no_images), std::invalid_argument);
  sdk::LossInput no_masks = f.input(at::zeros({8, 2, 48}));
  no_masks.masks_tgt = nullptr;
  EXPECT_THROW(loss.compute(no_masks), std::invalid_argument);
  sdk::LossInput bad_patch = f.input(at::zeros({8, 2, 48}));
  bad_patch.patch_size = 3;
  EXPECT_THROW(loss.compute(bad_patch), std::invalid_argument);
}

TEST(PixelLossOptions, DefaultsRoundTripAndBadValuesNameTheKey) {
  const nlohmann::json defaults = px::PixelLossOptions::default_config();
  EXPECT_EQ(defaults, (nlohmann::json{{"distance", "l2"}, {"norm_pix", true}, {"eps", 1e-6}, {"beta", 1.0}}));
  const nlohmann::json doc = px::PixelLossOptions::doc();
  EXPECT_EQ(doc.size(), defaults.size());
  for (auto it = defaults.begin(); it != defaults.end(); ++it) EXPECT_TRUE(doc[it.key()].is_string()) << it.key();
  EXPECT_EQ(px::PixelLossOptions::from_json(defaults).to_json(), defaults);
  struct Bad {
    const char* key;
    nlohmann::json value;
  };
  const Bad bad[] = {{"distance", "l1"}, {"distance", 2},    {"norm_pix", "yes"}, {"eps", 0.0},
                     {"eps", -1e-6},     {"eps", "small"}, {"beta", 0.0},       {"beta", -1.0}};
  for (const auto& b : bad) {
    nlohmann::json cfg = defaults;
    cfg[b.key] = b.value;
    try {
      (void)px::PixelLossOptions::from_json(cfg);
      ADD_FAILURE() << b.key << "=" << b.value.dump() << " accepted";
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + b.key + "'"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}
