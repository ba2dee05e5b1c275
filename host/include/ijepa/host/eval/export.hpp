#pragma once
// Export of a trained encoder to the two places downstream users pick encoders up:
//   timm:  DIR/config.json (timm's hub layout: architecture, model_args, pretrained_cfg) + DIR/model.safetensors,
//          loaded by timm.create_model("local-dir:DIR", pretrained=True, num_classes=0), or strictly by
//          timm.create_model(<architecture>, num_classes=0, **model_args).load_state_dict(...). timm's
//          VisionTransformer with class_token=False, global_pool="avg", fc_norm=False is the I-JEPA encoder, and its
//          parameter names are the official ones, so the tensors go over as they are.
//   hf:    DIR/config.json (IJepaConfig) + DIR/model.safetensors in the layout IJepaModel.save_pretrained writes
//          (embeddings.*, encoder.layer.N.attention.attention.{query,key,value}, ...: qkv split in three), loaded by
//          transformers.IJepaModel.from_pretrained(DIR).
// The encoder must have the official ViT layout (patch_embed, pos_embed, blocks.N.{norm1,attn,norm2,mlp}, norm).
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/io/safetensors.hpp"

namespace ijepa::host {

enum class ExportFormat { timm, hf };

// The ViT's shape as read off its tensors (and the encoder for the head count).
struct VitShape {
  std::int64_t embed_dim = 0, depth = 0, num_heads = 0, mlp_hidden = 0, patch_size = 0, in_chans = 0, img_size = 0;
};

// The encoder's tensors under their official names; ConfigError naming the first missing or misshapen key.
TensorMap encoder_state(sdk::Encoder& encoder, VitShape& shape);

// The Hugging Face layout from the official-name state (timm's is the official one); configs (pure functions).
TensorMap hf_state(const TensorMap& official, const VitShape& shape);
nlohmann::json timm_config(const VitShape& shape);
nlohmann::json hf_config(const VitShape& shape);
// The preprocessing the workbench evaluates with (shorter side to round(S*256/224), bilinear, centre crop S, ImageNet
// mean/std) in each library's terms: timm's crop_pct (S / (R + 0.5), so that timm's floor(S / crop_pct) is R) and
// transformers' preprocessor_config.json (BitImageProcessor).
double eval_crop_pct(std::int64_t size);
nlohmann::json hf_preprocessor_config(const VitShape& shape);
std::string timm_architecture(const VitShape& shape);  // vit_<size>_patch<p>_gap_<S> when timm has it, else the nearest

struct ExportResult {
  std::filesystem::path dir;
  VitShape shape;
  std::string loader;  // the Python line that loads it
};
// export_encoder(le, format, out): writes out/ (built as out.tmp-<pid>, renamed into place). Refuses an out that
// exists and is not an empty directory (ConfigError naming it): nothing already there is touched.
ExportResult export_encoder(const LoadedEncoder& le, ExportFormat format, const std::filesystem::path& out);

}  // namespace ijepa::host
