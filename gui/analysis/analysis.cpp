#include "analysis/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <ATen/ATen.h>

#include "ijepa/host/data/dataset.hpp"
#include "ijepa/host/data/mask_check.hpp"
#include "ijepa/host/data/transforms.hpp"
#include "ijepa/host/config/experiment.hpp"
#include "ijepa/host/eval/evaluation.hpp"
#include "ijepa/host/hosting/build_context.hpp"
#include "ijepa/host/run/jepa_model.hpp"
#include "ijepa/host/util/alloc_budget.hpp"
#include "ijepa/sdk/capabilities.hpp"
#include "ijepa/host/io/checkpoint.hpp"
#include "ijepa/host/log/logging.hpp"

namespace fs = std::filesystem;

namespace ijepa::gui {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_image_file(const fs::path& p) {
  const std::string e = lower(p.extension().string());
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".bmp" || e == ".tga";
}

std::vector<std::int64_t> row_of(const at::Tensor& masks, std::int64_t row) {
  const at::Tensor m = masks[row].to(at::kLong).contiguous();
  const std::int64_t* p = m.data_ptr<std::int64_t>();
  return std::vector<std::int64_t>(p, p + m.size(0));
}


sdk::BuildContext mask_context(const MaskRequest& req) {
  try {
    return host::build_context(req.image_size, req.patch_size, req.seed);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
}

std::string one_line(const std::exception& e) {
  std::string s = e.what();
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

// check_masks(ms, batch, ctx, type): what the masker returned keeps the SDK's contract (ids on the grid), else an
// error naming it, shown in the panel (a bad id would otherwise fail later, far from its cause).
void check_masks(const sdk::MaskSet& ms, std::int64_t batch, const sdk::BuildContext& ctx, const std::string& type) {
  if (const std::string p = host::mask_set_problem(ms, batch, ctx.grid.count()); !p.empty()) {
    throw std::runtime_error(type + ": " + p);
  }
}

// The masks of the batch req.batch_size that training would draw at req.batch_number, and the row shown.
std::pair<sdk::MaskSet, std::int64_t> sample_batch(const host::Component<sdk::Masker>& masker, const MaskRequest& req,
                                                    const sdk::BuildContext& ctx) {
  const std::int64_t b = std::max<std::int64_t>(1, req.batch_size);
  sdk::MaskSet ms = masker.call([&](sdk::Masker& m) { return m.sample(b, req.batch_number); });
  check_masks(ms, b, ctx, masker.type);
  return {std::move(ms), std::max<std::int64_t>(0, req.image_index) % b};
}

}  // namespace

struct Analysis::Images {
  std::shared_ptr<host::Dataset> data;  // or a single file:
  std::string file;
  at::Tensor file_pixels;  // uint8 [H, W, 3]
  std::string description;
};

struct Analysis::Model {
  host::Component<sdk::Encoder> target, context;
  host::Component<sdk::Predictor> predictor;
  std::string context_error, predictor_error;
  nlohmann::json resolved;
  std::string origin;
  std::int64_t step = -1;
  std::int64_t image_size = 0, patch_size = 0;
};

Analysis::Analysis(host::PluginHost& plugins) : plugins_(plugins) {}
Analysis::~Analysis() = default;

void Analysis::open_data(const std::string& spec, const std::string& split) {
  auto im = std::make_unique<Images>();
  std::error_code ec;
  const fs::path p(spec);
  if (fs::is_regular_file(p, ec)) {
    if (!is_image_file(p)) throw std::runtime_error(spec + ": not an image file (.jpg, .jpeg, .png, .bmp, .tga)");
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    im->file = spec;
    im->file_pixels = host::decode_image(ss.str(), spec);
    im->description = spec + " (" + std::to_string(im->file_pixels.size(1)) + "x" +
                      std::to_string(im->file_pixels.size(0)) + ")";
  } else if (fs::is_directory(p, ec)) {
    fs::path root = p;
    const std::string want = split == "train" ? "train" : "val";
    if (fs::is_directory(p / want, ec)) root = p / want;
    else if (split != "train" && fs::is_directory(p / "test", ec)) root = p / "test";
    else if (fs::is_directory(p / "train", ec)) root = p / "train";
    im->data = host::open_image_folder(root.string(), host::ImageFolderOptions{});
    im->description = im->data->describe();
  } else if (spec.find('/') == std::string::npos && spec.find('.') == std::string::npos) {
    nlohmann::json cfg = host::data_defaults();
    cfg["source"] = spec;
    im->data = host::open_dataset(cfg, split);
    im->description = im->data->describe();
  } else {
    throw std::runtime_error(spec + ": no such image file, image folder or data source");
  }
  if (im->data && im->data->size() == 0) throw std::runtime_error(im->description + ": no images");
  images_ = std::move(im);
}

void Analysis::open_data_config(const nlohmann::json& data, const std::string& split) {
  nlohmann::json cfg = host::data_defaults();
  if (data.is_object()) cfg.merge_patch(data);
  auto im = std::make_unique<Images>();
  im->data = host::open_dataset(cfg, split);
  im->description = im->data->describe();
  if (im->data->size() == 0) throw std::runtime_error(im->description + ": no images");
  images_ = std::move(im);
}

std::int64_t Analysis::image_count() const {
  if (!images_) return 0;
  return images_->data ? images_->data->size() : 1;
}

std::string Analysis::data_description() const { return images_ ? images_->description : "no images open"; }

std::pair<RgbaImage, at::Tensor> Analysis::image(std::int64_t index, std::int64_t size) const {
  if (!images_) throw std::runtime_error("no images open (choose a data source, folder or image file)");
  at::Tensor pixels;
  if (images_->data) {
    if (index < 0 || index >= images_->data->size()) {
      throw std::runtime_error("image index " + std::to_string(index) + " outside 0.." +
                               std::to_string(images_->data->size() - 1));
    }
    pixels = images_->data->get(index).pixels;
  } else {
    pixels = images_->file_pixels;
  }
  at::Tensor x = host::eval_transform(pixels, size);
  return {to_rgba(x), x};
}

RgbaImage to_rgba(const at::Tensor& normalised) {
  at::Tensor x = normalised.to(at::kFloat);
  if (x.size(0) == 1) x = x.expand({3, x.size(1), x.size(2)});
  const at::Tensor mean = at::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  const at::Tensor stdv = at::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  const at::Tensor u8 = (x * stdv + mean).mul(255.0f).round().clamp(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous();
  RgbaImage img;
  img.height = static_cast<int>(u8.size(0));
  img.width = static_cast<int>(u8.size(1));
  img.pixels.resize(static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height) * 4);
  const std::uint8_t* p = u8.data_ptr<std::uint8_t>();
  for (std::size_t i = 0, n = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height); i < n; ++i) {
    img.pixels[i * 4] = p[i * 3];
    img.pixels[i * 4 + 1] = p[i * 3 + 1];
    img.pixels[i * 4 + 2] = p[i * 3 + 2];
    img.pixels[i * 4 + 3] = 255;
  }
  return img;
}

std::vector<std::string> Analysis::masker_types() const {
  return plugins_.registry().types(host::Kind::masker);
}

nlohmann::json Analysis::masker_defaults(const std::string& type) const {
  const auto* e = plugins_.registry().find(host::Kind::masker, type);
  if (!e) throw std::runtime_error("no masker plugin of type '" + type + "'");
  nlohmann::json d = e->defaults.is_object() ? e->defaults : nlohmann::json::object();
  d["type"] = type;
  return d;
}

MaskFrame Analysis::sample_masks(const MaskRequest& req) const {
  MaskFrame f;
  f.batch_number = req.batch_number;
  try {
    const sdk::BuildContext ctx = mask_context(req);
    f.grid = Grid{static_cast<int>(ctx.grid.h), static_cast<int>(ctx.grid.w)};
    const auto masker = plugins_.registry().make_masker(req.masker, ctx, "masker");
    f.masker = masker.type + " (" + masker.plugin_id + ")";
    const auto [ms, row] = sample_batch(masker, req, ctx);
    f.context = row_of(ms.context.front(), row);
    for (const auto& t : ms.target) f.targets.push_back(row_of(t, row));
    f.row = row;
    f.batch_size = std::max<std::int64_t>(1, req.batch_size);
    f.k_enc = ms.context.front().size(1);
    f.k_pred = ms.target.front().size(1);
    f.fallbacks = ms.fallbacks;
    if (images_) f.image = image(req.image_index, req.image_size).first;
  } catch (const std::exception& e) {
    f.error = one_line(e);
  }
  return f;
}

MaskStatsFrame Analysis::mask_stats(const MaskRequest& req, std::int64_t batches, std::int64_t batch_size) const {
  MaskStatsFrame f;
  try {
    if (batches < 1 || batch_size < 1) throw std::runtime_error("batches and batch size must be positive");
    const sdk::BuildContext ctx = mask_context(req);
    const Grid grid{static_cast<int>(ctx.grid.h), static_cast<int>(ctx.grid.w)};
    const auto masker = plugins_.registry().make_masker(req.masker, ctx, "masker");
    f.masker = masker.type + " (" + masker.plugin_id + ")";
    MaskStatsAccumulator acc(grid);
    for (std::int64_t b = 0; b < batches; ++b) {
      const sdk::MaskSet ms = masker.call(
          [&](sdk::Masker& m) { return m.sample(batch_size, req.batch_number + static_cast<std::uint64_t>(b)); });
      check_masks(ms, batch_size, ctx, masker.type);
      const at::Tensor c = ms.context.front().to(at::kLong).contiguous();
      std::vector<at::Tensor> ts;
      for (const auto& t : ms.target) ts.push_back(t.to(at::kLong).contiguous());
      for (std::int64_t i = 0; i < batch_size; ++i) {
        const std::int64_t* cp = c.data_ptr<std::int64_t>() + i * c.size(1);
        std::vector<std::vector<std::int64_t>> targets;
        for (const auto& t : ts) {
          const std::int64_t* tp = t.data_ptr<std::int64_t>() + i * t.size(1);
          targets.emplace_back(tp, tp + t.size(1));
        }
        acc.add(std::vector<std::int64_t>(cp, cp + c.size(1)), targets);
      }
      acc.add_batch(ms.fallbacks);
    }
    f.summary = acc.summary();
  } catch (const std::exception& e) {
    f.error = one_line(e);
  }
  return f;
}

void Analysis::open_model(const std::string& path) {
  const auto& reg = plugins_.registry();
  auto m = std::make_unique<Model>();
  host::TensorMap w;  // the checkpoint, read once for the three parts
  host::LoadedEncoder t = host::load_encoder(path, "target", reg, {}, "", &w);
  m->target = t.encoder;
  m->resolved = t.resolved;
  m->origin = t.origin;
  m->step = t.step;
  const sdk::BuildContext base = host::experiment_context(m->resolved);
  m->image_size = base.image_size;
  m->patch_size = base.patch_size;
  try {
    m->context = host::encoder_from(t, w, "context", reg);
  } catch (const std::exception& e) {
    m->context_error = one_line(e);
  }
  try {
    const sdk::BuildContext ctx = host::with_encoder(base, *m->target);
    const std::uint64_t held = host::bytes_under(w, "predictor.");  // the predictor's weights in the checkpoint
    if (held == 0) throw std::runtime_error(m->origin + ": no 'predictor.*' weights");
    // As for the encoders (host::encoder_from): the recorded config may not describe these weights.
    const host::util::AllocationBudget budget(4 * held + (64ull << 20),
                                              m->origin + ": the recorded config's predictor (the file holds " +
                                                  std::to_string(held >> 20) + " MiB of its weights)");
    auto pred = reg.make_predictor(m->resolved.at("components").at("predictor"), ctx, "components.predictor");
    host::load_module_state(*pred.ptr, w, "predictor.", m->origin);
    pred->eval();
    m->predictor = pred;
  } catch (const std::exception& e) {
    m->predictor_error = one_line(e);
  }
  m->target->eval();
  if (m->context) m->context->eval();
  model_ = std::move(m);
}

void Analysis::open_model_data(const std::string& split) {
  if (!model_) throw std::runtime_error("no model open");
  open_data_config(model_->resolved.at("data"), split);
}

bool Analysis::has_model() const { return static_cast<bool>(model_); }
bool Analysis::has_predictor() const { return model_ && model_->predictor && model_->context; }

std::string Analysis::model_description() const {
  if (!model_) return "no model open";
  std::ostringstream os;
  os << model_->origin << " (" << model_->target.type << ", D " << model_->target->embed_dim() << ", "
     << model_->target->depth() << " blocks, " << model_->target->num_heads() << " heads, " << model_->image_size
     << " px / patch " << model_->patch_size;
  if (model_->step >= 0) os << ", step " << model_->step;
  os << ")";
  if (!model_->context_error.empty()) os << "; context encoder: " << model_->context_error;
  if (!model_->predictor_error.empty()) os << "; predictor: " << model_->predictor_error;
  return os.str();
}

std::int64_t Analysis::model_image_size() const { return model_ ? model_->image_size : 0; }
std::int64_t Analysis::model_patch_size() const { return model_ ? model_->patch_size : 0; }
int Analysis::model_depth() const { return model_ ? static_cast<int>(model_->target->depth()) : 0; }
int Analysis::model_heads() const { return model_ ? static_cast<int>(model_->target->num_heads()) : 0; }

nlohmann::json Analysis::model_masker() const {
  if (!model_) return nullptr;
  return model_->resolved.at("components").at("masker");
}

AttentionFrame Analysis::attention(std::int64_t image_index, int block, int head, std::int64_t query,
                                   const std::string& encoder) const {
  AttentionFrame f;
  f.block = block;
  f.head = head;
  f.query = query;
  try {
    if (!model_) throw std::runtime_error("no model open (open a run directory or a checkpoint)");
    f.model = model_->origin;
    const auto& enc = encoder == "context" ? model_->context : model_->target;
    if (!enc) throw std::runtime_error("the checkpoint has no context encoder: " + model_->context_error);
    const auto grid = enc->grid();
    f.grid = Grid{static_cast<int>(grid.h), static_cast<int>(grid.w)};
    f.depth = static_cast<int>(enc->depth());
    f.heads = static_cast<int>(enc->num_heads());
    if (block < 0 || block >= f.depth) throw std::runtime_error("block " + std::to_string(block) + " outside 0.." + std::to_string(f.depth - 1));
    if (head < -1 || head >= f.heads) throw std::runtime_error("head " + std::to_string(head) + " outside -1.." + std::to_string(f.heads - 1));
    if (query < 0 || query >= f.grid.count()) throw std::runtime_error("query patch " + std::to_string(query) + " outside the grid");
    const auto* cap = static_cast<const sdk::AttentionMaps*>(enc->capability(sdk::kAttentionMapsId));
    if (!cap) {
      throw std::runtime_error("encoder '" + enc.type + "' (" + enc.plugin_id + ") does not offer attention maps (" +
                               sdk::kAttentionMapsId + ")");
    }
    auto [rgba, x] = image(image_index, model_->image_size);
    f.image = std::move(rgba);
    at::NoGradGuard no_grad;
    const at::Tensor a = enc.call([&](sdk::Encoder&) { return cap->attention(x.unsqueeze(0), block); });
    if (a.dim() != 4 || a.size(2) != f.grid.count() || a.size(3) != f.grid.count()) {
      throw std::runtime_error("attention maps of shape " + std::to_string(a.dim()) + "-d, expected [1, heads, N, N]");
    }
    at::Tensor row = head < 0 ? a[0].mean(0)[query] : a[0][head][query];
    row = row.to(at::kFloat).contiguous();
    f.map.assign(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
  } catch (const std::exception& e) {
    f.error = one_line(e);
  }
  return f;
}

std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>> pca_rgb(const at::Tensor& features,
                                                                       const at::Tensor& project) {
  const at::Tensor x = features.to(at::kDouble);
  const at::Tensor mean = x.mean(0, true);
  const at::Tensor xc = x - mean;
  const auto [evals, evecs] = at::linalg_eigh(xc.t().mm(xc));  // ascending
  const std::int64_t d = x.size(1);
  const std::int64_t k = std::min<std::int64_t>(3, d);
  at::Tensor basis = evecs.narrow(1, d - k, k).flip({1});  // [D, k], largest first
  // Fix each component's sign: its largest-magnitude entry positive (eigenvectors are defined up to sign).
  const at::Tensor idx = basis.abs().argmax(0);
  const at::Tensor signs = basis.gather(0, idx.unsqueeze(0)).sign().clamp_min(0).mul(2).sub(1);
  basis = basis * signs;
  const at::Tensor pf = xc.mm(basis);
  const at::Tensor pp = (project.to(at::kDouble) - mean).mm(basis);
  const at::Tensor lo = std::get<0>(pf.min(0, true)), hi = std::get<0>(pf.max(0, true));
  const at::Tensor span = (hi - lo).clamp_min(1e-12);
  auto to_u8 = [&](const at::Tensor& p) {
    at::Tensor c = ((p - lo) / span).clamp(0, 1).mul(255).round().to(at::kByte);
    if (k < 3) c = at::cat({c, at::zeros({c.size(0), 3 - k}, c.options())}, 1);
    c = c.contiguous();
    return std::vector<std::uint8_t>(c.data_ptr<std::uint8_t>(), c.data_ptr<std::uint8_t>() + c.numel());
  };
  return {to_u8(pf), to_u8(pp)};
}

PredictionFrame Analysis::predict(const MaskRequest& req_in) const {
  PredictionFrame f;
  try {
    if (!model_) throw std::runtime_error("no model open (open a run directory or a checkpoint)");
    f.model = model_->origin;
    if (!model_->context) throw std::runtime_error("no context encoder: " + model_->context_error);
    if (!model_->predictor) throw std::runtime_error("no predictor: " + model_->predictor_error);
    MaskRequest req = req_in;
    if (req.masker.is_null()) req.masker = model_masker();
    req.image_size = model_->image_size;
    req.patch_size = model_->patch_size;
    const sdk::BuildContext ctx = mask_context(req);
    const auto masker = plugins_.registry().make_masker(req.masker, ctx, "masker");
    const auto [ms, row] = sample_batch(masker, req, ctx);
    f.grid = Grid{static_cast<int>(ctx.grid.h), static_cast<int>(ctx.grid.w)};
    f.context = row_of(ms.context.front(), row);
    for (const auto& t : ms.target) f.targets.push_back(row_of(t, row));
    auto [rgba, x] = image(req.image_index, req.image_size);
    f.image = std::move(rgba);

    at::NoGradGuard no_grad;
    const at::Tensor images = x.unsqueeze(0);
    std::vector<at::Tensor> mctx, mtgt;  // the shown row's masks, for the one image
    for (const auto& c : ms.context) mctx.push_back(c.narrow(0, row, 1));
    for (const auto& t : ms.target) mtgt.push_back(t.narrow(0, row, 1));
    // The model's own forward (the trainer's), then the loss's target: F.layer_norm over the features (spec §4).
    const host::JepaForward fw =
        host::jepa_forward(model_->target, model_->context, model_->predictor, images, mctx, mtgt, true);
    const std::int64_t dim = fw.target_tokens.size(-1);
    const at::Tensor h = at::layer_norm(fw.target_tokens, {dim});  // [1, N, D]
    const at::Tensor& z = fw.prediction;
    if (z.size(-1) != dim) {
      throw std::runtime_error("the predictor outputs " + std::to_string(z.size(-1)) + " features per patch, the encoder " +
                               std::to_string(dim) + ": it does not predict representations (a pixel-target run?)");
    }
    const std::int64_t n = f.grid.count();
    std::vector<double> cos_sum(static_cast<std::size_t>(n), 0.0), l2_sum(static_cast<std::size_t>(n), 0.0);
    std::vector<int> hits(static_cast<std::size_t>(n), 0);
    const at::Tensor hn = h[0];  // [N, D]
    at::Tensor pred_sum = at::zeros({n, dim}, at::kFloat);
    double all_cos = 0, all_l2 = 0;
    std::int64_t all_n = 0;
    for (std::size_t m = 0; m < mtgt.size(); ++m) {
      const at::Tensor ids = mtgt[m][0].to(at::kLong);
      const at::Tensor tgt = hn.index_select(0, ids).to(at::kFloat);                  // [K, D]
      const at::Tensor prd = z[static_cast<std::int64_t>(m)].to(at::kFloat);           // [K, D] (context block 0)
      const at::Tensor cs = at::cosine_similarity(prd, tgt, 1).contiguous();
      const at::Tensor l2 = (prd - tgt).norm(2, {1}).contiguous();
      pred_sum.index_add_(0, ids, prd);
      const auto id = ids.contiguous();
      for (std::int64_t k = 0; k < id.size(0); ++k) {
        const auto p = static_cast<std::size_t>(id.data_ptr<std::int64_t>()[k]);
        cos_sum[p] += cs.data_ptr<float>()[k];
        l2_sum[p] += l2.data_ptr<float>()[k];
        ++hits[p];
        all_cos += cs.data_ptr<float>()[k];
        all_l2 += l2.data_ptr<float>()[k];
        ++all_n;
      }
    }
    f.cosine.assign(static_cast<std::size_t>(n), std::numeric_limits<float>::quiet_NaN());
    f.l2.assign(static_cast<std::size_t>(n), std::numeric_limits<float>::quiet_NaN());
    std::vector<std::int64_t> covered;
    for (std::int64_t p = 0; p < n; ++p) {
      const auto i = static_cast<std::size_t>(p);
      if (hits[i] == 0) continue;
      f.cosine[i] = static_cast<float>(cos_sum[i] / hits[i]);
      f.l2[i] = static_cast<float>(l2_sum[i] / hits[i]);
      covered.push_back(p);
    }
    f.mean_cosine = all_n ? all_cos / static_cast<double>(all_n) : 0.0;
    f.mean_l2 = all_n ? all_l2 / static_cast<double>(all_n) : 0.0;
    // PCA of the target features; the mean prediction of each covered patch projected on the same basis.
    const at::Tensor cov_ids = at::tensor(covered, at::kLong);
    const at::Tensor hit_counts = at::tensor(std::vector<float>(hits.begin(), hits.end())).index_select(0, cov_ids);
    const at::Tensor pred_mean = pred_sum.index_select(0, cov_ids) / hit_counts.unsqueeze(1);
    const auto [trgb, prgb] = pca_rgb(hn.to(at::kFloat), pred_mean);
    auto grid_image = [&](int w, int hgt) {
      RgbaImage img;
      img.width = w;
      img.height = hgt;
      img.pixels.assign(static_cast<std::size_t>(w) * static_cast<std::size_t>(hgt) * 4, 96);
      for (std::size_t i = 3; i < img.pixels.size(); i += 4) img.pixels[i] = 255;
      return img;
    };
    f.target_pca = grid_image(f.grid.w, f.grid.h);
    f.predicted_pca = grid_image(f.grid.w, f.grid.h);
    for (std::int64_t p = 0; p < n; ++p) {
      for (int c = 0; c < 3; ++c) f.target_pca.pixels[static_cast<std::size_t>(p * 4 + c)] = trgb[static_cast<std::size_t>(p * 3 + c)];
    }
    for (std::size_t j = 0; j < covered.size(); ++j) {
      const auto p = static_cast<std::size_t>(covered[j]);
      for (std::size_t c = 0; c < 3; ++c) f.predicted_pca.pixels[p * 4 + c] = prgb[j * 3 + c];
    }
  } catch (const std::exception& e) {
    f.error = one_line(e);
  }
  return f;
}

}  // namespace ijepa::gui
