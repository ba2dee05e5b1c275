#pragma once
// What producers (the analysis worker) hand to the views: plain CPU data, no tensors, no GL.
#include <cstdint>
#include <string>
#include <vector>

#include "core/colormap.hpp"
#include "core/mask_stats.hpp"
#include "core/patch_geometry.hpp"

namespace ijepa::gui {

// One image with one sampled mask set (image 0 of a batch, context mask 0 and every target mask).
struct MaskFrame {
  RgbaImage image;                               // the image as the encoder sees it (S x S)
  Grid grid;
  std::vector<std::int64_t> context;             // patch ids of context block 0
  std::vector<std::vector<std::int64_t>> targets;  // patch ids of each target block
  std::int64_t k_enc = 0, k_pred = 0, fallbacks = 0;
  std::string masker;                            // "multiblock (ijepa_masker_multiblock)"
  std::uint64_t batch_number = 0;
  std::int64_t row = 0, batch_size = 1;          // the row shown of the batch the masks were drawn for
  std::string error;                             // non-empty: what went wrong (shown in the panel)
};

struct MaskStatsFrame {
  MaskStatsSummary summary;
  std::string masker;
  std::string error;
};

struct AttentionFrame {
  RgbaImage image;
  Grid grid;
  int block = 0, head = 0;                  // head -1: mean over heads
  std::int64_t query = 0;
  int depth = 0, heads = 0;
  std::vector<float> map;                   // [grid.h * grid.w] attention of the query to every patch
  std::string model;                        // run directory or checkpoint
  std::string error;
};

struct PredictionFrame {
  RgbaImage image;
  Grid grid;
  std::vector<std::int64_t> context;
  std::vector<std::vector<std::int64_t>> targets;
  std::vector<float> cosine;                // [N] mean cosine similarity over the targets covering a patch; NaN elsewhere
  std::vector<float> l2;                    // [N] mean L2 distance, same convention
  RgbaImage target_pca, predicted_pca;      // grid-sized PCA-to-RGB images (predicted: grey outside the targets)
  double mean_cosine = 0, mean_l2 = 0;
  std::string model;
  std::string error;
};

}  // namespace ijepa::gui
