#include "ijepa/host/eval/export.hpp"

#include <unistd.h>

#include <cmath>

#include "ijepa/host/data/transforms.hpp"
#include "ijepa/host/io/files.hpp"
#include "ijepa/host/util/errors.hpp"

namespace fs = std::filesystem;

namespace ijepa::host {

namespace {

const at::Tensor& need(const TensorMap& m, const std::string& key, std::int64_t dim) {
  auto it = m.find(key);
  if (it == m.end()) {
    throw ConfigError("export: the encoder has no tensor '" + key +
                      "' (export needs the official ViT layout: patch_embed, pos_embed, blocks.N, norm)");
  }
  if (it->second.dim() != dim) {
    throw ConfigError("export: tensor '" + key + "' has " + std::to_string(it->second.dim()) + " dimensions, expected " +
                      std::to_string(dim));
  }
  return it->second;
}

std::string block(std::int64_t i) { return "blocks." + std::to_string(i) + "."; }

}  // namespace

TensorMap encoder_state(sdk::Encoder& encoder, VitShape& shape) {
  TensorMap m;
  for (const auto& p : encoder.named_parameters(true)) m[p.key()] = p.value().detach().to(at::kCPU, at::kFloat).contiguous();
  for (const auto& b : encoder.named_buffers(true)) m[b.key()] = b.value().detach().to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor& pe = need(m, "patch_embed.proj.weight", 4);
  shape.embed_dim = pe.size(0);
  shape.in_chans = pe.size(1);
  shape.patch_size = pe.size(2);
  shape.num_heads = encoder.num_heads();
  const sdk::PatchGrid g = encoder.grid();
  if (g.h != g.w) throw ConfigError("export: the encoder's patch grid is not square");
  shape.img_size = g.h * shape.patch_size;
  const at::Tensor& pos = need(m, "pos_embed", 3);
  if (pos.size(1) != g.h * g.w || pos.size(2) != shape.embed_dim) {
    throw ConfigError("export: pos_embed has shape [" + std::to_string(pos.size(0)) + ", " + std::to_string(pos.size(1)) +
                      ", " + std::to_string(pos.size(2)) + "], expected one token per patch and width " +
                      std::to_string(shape.embed_dim));
  }
  while (m.count(block(shape.depth) + "attn.qkv.weight")) ++shape.depth;
  if (shape.depth == 0) need(m, "blocks.0.attn.qkv.weight", 2);  // names the missing key
  shape.mlp_hidden = need(m, "blocks.0.mlp.fc1.weight", 2).size(0);
  for (std::int64_t i = 0; i < shape.depth; ++i) {
    for (const char* k : {"norm1.weight", "norm1.bias", "attn.qkv.bias", "attn.proj.bias", "norm2.weight", "norm2.bias",
                          "mlp.fc1.bias", "mlp.fc2.bias"}) {
      need(m, block(i) + k, 1);
    }
    for (const char* k : {"attn.qkv.weight", "attn.proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"}) need(m, block(i) + k, 2);
  }
  need(m, "norm.weight", 1);
  need(m, "norm.bias", 1);
  need(m, "patch_embed.proj.bias", 1);
  // Only the ViT's own tensors go out; anything else would be an unexpected key for both loaders.
  TensorMap out;
  for (auto& [k, v] : m) {
    if (k.rfind("blocks.", 0) == 0 || k.rfind("patch_embed.", 0) == 0 || k == "pos_embed" || k.rfind("norm.", 0) == 0) {
      out[k] = v;
    } else {
      throw ConfigError("export: the encoder has a tensor '" + k + "' outside the official ViT layout");
    }
  }
  return out;
}

TensorMap hf_state(const TensorMap& official, const VitShape& shape) {
  TensorMap out;
  out["embeddings.patch_embeddings.projection.weight"] = official.at("patch_embed.proj.weight");
  out["embeddings.patch_embeddings.projection.bias"] = official.at("patch_embed.proj.bias");
  out["embeddings.position_embeddings"] = official.at("pos_embed");
  for (std::int64_t i = 0; i < shape.depth; ++i) {
    const std::string b = block(i), l = "encoder.layer." + std::to_string(i) + ".";
    const std::vector<at::Tensor> w = official.at(b + "attn.qkv.weight").chunk(3, 0);
    const std::vector<at::Tensor> bias = official.at(b + "attn.qkv.bias").chunk(3, 0);
    const char* names[3] = {"query", "key", "value"};
    for (int j = 0; j < 3; ++j) {
      out[l + "attention.attention." + names[j] + ".weight"] = w[static_cast<std::size_t>(j)].contiguous();
      out[l + "attention.attention." + names[j] + ".bias"] = bias[static_cast<std::size_t>(j)].contiguous();
    }
    const std::pair<const char*, const char*> same[] = {
        {"attn.proj", "attention.output.dense"}, {"mlp.fc1", "intermediate.dense"}, {"mlp.fc2", "output.dense"},
        {"norm1", "layernorm_before"},           {"norm2", "layernorm_after"}};
    for (const auto& [from, to] : same) {
      out[l + to + ".weight"] = official.at(b + from + ".weight");
      out[l + to + ".bias"] = official.at(b + from + ".bias");
    }
  }
  out["layernorm.weight"] = official.at("norm.weight");
  out["layernorm.bias"] = official.at("norm.bias");
  return out;
}

std::string timm_architecture(const VitShape& s) {
  struct Known {
    const char* name;
    std::int64_t dim, depth, patch, size;
  };
  // timm's registered ViTs without a class token and with average pooling.
  static const Known known[] = {{"vit_base_patch16_gap_224", 768, 12, 16, 224},
                                {"vit_huge_patch14_gap_224", 1280, 32, 14, 224},
                                {"vit_huge_patch16_gap_448", 1280, 32, 16, 448},
                                {"vit_giant_patch16_gap_224", 1408, 40, 16, 224}};
  for (const Known& k : known) {
    if (k.dim == s.embed_dim && k.depth == s.depth && k.patch == s.patch_size && k.size == s.img_size) return k.name;
  }
  // Any other shape: the same VisionTransformer class under the base name; model_args carry every dimension.
  return "vit_base_patch16_gap_224";
}

double eval_crop_pct(std::int64_t size) {
  // timm resizes the shorter side to floor(size / crop_pct): R + 0.5 lands it on R whatever the rounding.
  return static_cast<double>(size) / (static_cast<double>(eval_resize_size(size)) + 0.5);
}

nlohmann::json timm_config(const VitShape& s) {
  const nlohmann::json mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};
  nlohmann::json model_args = {{"img_size", s.img_size},     {"patch_size", s.patch_size}, {"in_chans", s.in_chans},
                               {"embed_dim", s.embed_dim},   {"depth", s.depth},           {"num_heads", s.num_heads},
                               {"mlp_ratio", static_cast<double>(s.mlp_hidden) / static_cast<double>(s.embed_dim)},
                               {"qkv_bias", true},           {"class_token", false},       {"global_pool", "avg"},
                               {"fc_norm", false}};
  return {{"architecture", timm_architecture(s)},
          {"num_classes", 0},
          {"num_features", s.embed_dim},
          {"global_pool", "avg"},
          {"model_args", model_args},
          {"pretrained_cfg",
           {{"tag", "ijepa_workbench"},
            {"custom_load", false},
            {"input_size", {s.in_chans, s.img_size, s.img_size}},
            {"fixed_input_size", true},
            {"interpolation", "bilinear"},
            {"crop_pct", eval_crop_pct(s.img_size)},
            {"crop_mode", "center"},
            {"mean", mean},
            {"std", std},
            {"num_classes", 0},
            {"pool_size", nullptr},
            {"first_conv", "patch_embed.proj"},
            {"classifier", "head"}}}};
}

nlohmann::json hf_config(const VitShape& s) {
  return {{"architectures", {"IJepaModel"}},
          {"model_type", "ijepa"},
          {"hidden_size", s.embed_dim},
          {"num_hidden_layers", s.depth},
          {"num_attention_heads", s.num_heads},
          {"intermediate_size", s.mlp_hidden},
          {"hidden_act", "gelu"},
          {"hidden_dropout_prob", 0.0},
          {"attention_probs_dropout_prob", 0.0},
          {"initializer_range", 0.02},
          {"layer_norm_eps", 1e-6},
          {"image_size", s.img_size},
          {"patch_size", s.patch_size},
          {"num_channels", s.in_chans},
          {"qkv_bias", true},
          {"pooler_output_size", s.embed_dim},
          {"pooler_act", "tanh"},
          {"dtype", "float32"}};
}

nlohmann::json hf_preprocessor_config(const VitShape& s) {
  // BitImageProcessor is the shorter-side resize + centre crop the workbench evaluates with (ViTImageProcessor would
  // squash the whole image to size x size).
  return {{"image_processor_type", "BitImageProcessor"},
          {"do_convert_rgb", true},
          {"do_resize", true},
          {"size", {{"shortest_edge", eval_resize_size(s.img_size)}}},
          {"resample", 2},  // PIL.Image.BILINEAR
          {"do_center_crop", true},
          {"crop_size", {{"height", s.img_size}, {"width", s.img_size}}},
          {"do_rescale", true},
          {"rescale_factor", 1.0 / 255.0},
          {"do_normalize", true},
          {"image_mean", {0.485, 0.456, 0.406}},
          {"image_std", {0.229, 0.224, 0.225}}};
}

ExportResult export_encoder(const LoadedEncoder& le, ExportFormat format, const fs::path& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec))) {
    throw ConfigError("--out " + out.string() + ": exists and is not an empty directory (choose another --out)");
  }
  ExportResult r;
  const TensorMap official = encoder_state(*le.encoder, r.shape);
  const bool timm = format == ExportFormat::timm;
  const TensorMap tensors = timm ? official : hf_state(official, r.shape);
  nlohmann::json cfg = timm ? timm_config(r.shape) : hf_config(r.shape);
  cfg["ijepa_workbench"] = {{"weights", le.origin}, {"step", le.step}, {"format", timm ? "timm" : "hf"}};
  const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  if (fs::create_directories(tmp, ec); ec) {
    throw ConfigError("--out " + out.string() + ": cannot create " + tmp.string() + " (" + ec.message() + ")");
  }
  try {
    write_file_atomic(tmp / "config.json", cfg.dump(2) + "\n");
    if (!timm) write_file_atomic(tmp / "preprocessor_config.json", hf_preprocessor_config(r.shape).dump(2) + "\n");
    write_safetensors((tmp / "model.safetensors").string(), tensors, {{"format", "pt"}});
    if (fs::exists(out, ec)) fs::remove(out);  // the empty directory checked above
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  r.dir = out;
  r.loader = timm ? "timm.create_model('local-dir:" + out.string() + "', pretrained=True, num_classes=0)"
                  : "transformers.IJepaModel.from_pretrained('" + out.string() + "')";
  return r;
}

}  // namespace ijepa::host
