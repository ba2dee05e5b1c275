#include "pixel_loss.hpp"

#include <sstream>
#include <stdexcept>

#include <ATen/ATen.h>

namespace ijepa::plugins::loss_pixel {

namespace {

std::string num_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

PixelLossOptions PixelLossOptions::from_json(const nlohmann::json& cfg) {
  PixelLossOptions o;
  o.distance = sdk::parse_distance(sdk::get<std::string>(cfg, "distance"), "distance");
  o.norm_pix = sdk::get<bool>(cfg, "norm_pix");
  for (const char* key : {"eps", "beta"}) {
    auto it = cfg.find(key);
    if (it != cfg.end() && !it->is_number())
      throw std::invalid_argument(std::string("key '") + key + "': expected a number, got " + it->dump());
  }
  o.eps = sdk::get<double>(cfg, "eps");
  if (!(o.eps > 0.0)) throw std::invalid_argument("key 'eps': must be > 0, got " + num_text(o.eps));
  o.beta = sdk::get<double>(cfg, "beta");
  if (!(o.beta > 0.0)) throw std::invalid_argument("key 'beta': must be > 0, got " + num_text(o.beta));
  return o;
}

nlohmann::json PixelLossOptions::to_json() const {
  return {{"distance", sdk::distance_name(distance)}, {"norm_pix", norm_pix}, {"eps", eps}, {"beta", beta}};
}

nlohmann::json PixelLossOptions::default_config() { return PixelLossOptions{}.to_json(); }

nlohmann::json PixelLossOptions::doc() {
  return {{"distance", "\"l2\" (mean squared error, as MAE; default) or \"smooth_l1\" (Huber with beta, mean)"},
          {"norm_pix", "normalise each target patch by its own mean and unbiased variance (MAE's norm_pix_loss)"},
          {"eps", "added to the patch variance before the square root when norm_pix (MAE: 1e-6); > 0"},
          {"beta", "Huber transition point of smooth_l1 (ignored by l2); > 0"}};
}

at::Tensor patchify(const at::Tensor& images, std::int64_t patch_size) {
  if (images.dim() != 4)
    throw std::invalid_argument("pixel loss: images must be [B, C, H, W], got " + c10::str(images.sizes()));
  const std::int64_t b = images.size(0), c = images.size(1), hp = images.size(2), wp = images.size(3);
  const std::int64_t p = patch_size;
  if (p <= 0 || hp % p != 0 || wp % p != 0)
    throw std::invalid_argument("pixel loss: patch size " + std::to_string(p) + " does not divide the image size " +
                                std::to_string(hp) + "x" + std::to_string(wp));
  const std::int64_t h = hp / p, w = wp / p;
  return images.reshape({b, c, h, p, w, p})
      .permute({0, 2, 4, 3, 5, 1})  // n c h p w q -> n h w p q c
      .reshape({b, h * w, p * p * c});
}

at::Tensor pixel_targets(const at::Tensor& images, std::int64_t patch_size, const std::vector<at::Tensor>& masks_ctx,
                         const std::vector<at::Tensor>& masks_tgt, bool norm_pix, double eps) {
  at::Tensor x = patchify(images.detach().to(at::kFloat), patch_size);  // [B, N, p*p*C]
  if (norm_pix) {
    const at::Tensor mean = x.mean({-1}, /*keepdim=*/true);
    const at::Tensor var = x.var({-1}, /*unbiased=*/true, /*keepdim=*/true);  // torch's default, as MAE
    x = (x - mean) / (var + eps).sqrt();
  }
  const std::int64_t batch = images.size(0);
  x = sdk::apply_masks(x, masks_tgt);                                                      // [npred*B, K, P]
  return sdk::repeat_interleave_batch(x, batch, static_cast<std::int64_t>(masks_ctx.size()));  // [npred*nenc*B, K, P]
}

std::int64_t PixelLoss::prediction_dim(const sdk::BuildContext& ctx) const {
  if (ctx.patch_size <= 0 || ctx.in_chans <= 0)
    throw std::invalid_argument("pixel loss: the run's patch size / channels are unknown (patch_size " +
                                std::to_string(ctx.patch_size) + ", in_chans " + std::to_string(ctx.in_chans) + ")");
  return ctx.patch_size * ctx.patch_size * ctx.in_chans;
}

sdk::LossOutput PixelLoss::compute(const sdk::LossInput& in) {
  if (!in.images.defined()) throw std::invalid_argument("pixel loss: the input images are missing");
  if (in.masks_ctx == nullptr || in.masks_tgt == nullptr || in.masks_ctx->empty() || in.masks_tgt->empty())
    throw std::invalid_argument("pixel loss: masks are missing");
  if (!in.prediction.defined()) throw std::invalid_argument("pixel loss: the prediction is missing");
  const at::Tensor t = pixel_targets(in.images, in.patch_size, *in.masks_ctx, *in.masks_tgt, opts_.norm_pix, opts_.eps);
  const at::Tensor z = in.prediction.to(at::kFloat);
  if (z.sizes() != t.sizes()) {
    throw std::invalid_argument("pixel loss: prediction shape " + c10::str(z.sizes()) + " != target shape " +
                                c10::str(t.sizes()) +
                                " (the predictor's output_dim must be patch_size^2 * channels = " +
                                std::to_string(t.size(-1)) + ")");
  }
  sdk::LossOutput out;
  out.loss = sdk::distance_loss(z, t, opts_.distance, opts_.beta);
  return out;
}

}  // namespace ijepa::plugins::loss_pixel
