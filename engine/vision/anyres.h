#pragma once
// LaViDa's (LLaVA-NeXT's) "anyres" image geometry, without LibTorch.
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/vision/image.h"

namespace shirg::vision {

// (width, height) pairs.
using Resolution = std::pair<int64_t, int64_t>;

// LaViDa's default grid pinpoints: (384,768), (768,384), (768,768), (1152,384), (384,1152).
std::vector<Resolution> default_grid_pinpoints();

// The pinpoint that keeps the most effective resolution (ties: least wasted area, first wins).
// Throws ImageError for an empty list or a non-positive size.
Resolution select_best_resolution(int64_t width, int64_t height,
                                  const std::vector<Resolution>& pinpoints);

// Resize keeping the aspect ratio (PIL bicubic, sizes rounded up, clamped to the target) and
// centre on a black canvas of `target`.
RgbImage resize_and_pad(const RgbImage& img, Resolution target);

// Row-major crops of side x side (the image sides must be multiples of `side`).
std::vector<RgbImage> divide_to_tiles(const RgbImage& img, int64_t side);

// The crop "unpad" applies to a [rows, cols] feature grid covering a padded image of original
// size (width, height): rows [row0, row1) and columns [col0, col1) are kept.
struct UnpadBox {
  int64_t row0, row1, col0, col1;
};
UnpadBox unpad_box(int64_t rows, int64_t cols, int64_t width, int64_t height);

}  // namespace shirg::vision
