#pragma once
// Synthetic test pictures for SHIRG and an honest model-free stand-in for SigLIP features:
// a fixed random linear map of each 14x14 patch's normalised pixels (what a randomly initialised
// SigLIP patch embedding computes) plus the patch's per-channel mean and standard deviation.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace shirg::testing {

struct RgbPicture {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width*height*3
};

// 672x672 flat, slightly noisy background; lines of small text-like glyphs (8x12 px strokes) in
// the top-left corner, inside pixels [28, 196) x [28, 196).
RgbPicture text_corner_picture(uint64_t seed);
// The same glyphs over the whole picture (a dense document).
RgbPicture document_picture(uint64_t seed);
// Flat background, with the same noise or without any, nothing else.
RgbPicture flat_picture(uint64_t seed, bool noise = true);

// Cells of the 48x48 grid (14x14 px) that contain at least one ink pixel.
std::vector<bool> ink_cells(const RgbPicture& pic);

// [48*48, dv] fp32 raster-order features (see the header comment); weights from `seed`.
at::Tensor random_patch_features(const RgbPicture& pic, int64_t dv, uint64_t seed);

}  // namespace shirg::testing
