#include "synthetic_image.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include <random>

namespace shirg::testing {
namespace {

constexpr int64_t kSide = 672, kPatch = 14, kGrid = 48;
constexpr uint8_t kPaper[3] = {236, 234, 228};
constexpr uint8_t kInk[3] = {30, 30, 40};

RgbPicture noisy_background(std::mt19937_64& rng) {
  RgbPicture p{kSide, kSide, std::vector<uint8_t>(static_cast<size_t>(kSide * kSide * 3))};
  for (size_t i = 0; i < p.rgb.size(); ++i)
    p.rgb[i] = static_cast<uint8_t>(kPaper[i % 3] + static_cast<int>(rng() % 5) - 2);
  return p;
}

void ink(RgbPicture& p, int64_t x, int64_t y) {
  if (x < 0 || y < 0 || x >= p.width || y >= p.height) return;
  for (int c = 0; c < 3; ++c) p.rgb[static_cast<size_t>((y * p.width + x) * 3 + c)] = kInk[c];
}

// One glyph in an 8x12 box at (x0, y0): 2-4 strokes, 2 px thick, from a small stroke alphabet.
void glyph(RgbPicture& p, int64_t x0, int64_t y0, std::mt19937_64& rng) {
  const int strokes = 2 + static_cast<int>(rng() % 3);
  for (int s = 0; s < strokes; ++s) {
    switch (rng() % 6) {
      case 0:  // left vertical
        for (int64_t y = 0; y < 12; ++y) ink(p, x0, y0 + y), ink(p, x0 + 1, y0 + y);
        break;
      case 1:  // right vertical
        for (int64_t y = 0; y < 12; ++y) ink(p, x0 + 6, y0 + y), ink(p, x0 + 7, y0 + y);
        break;
      case 2:  // top bar
        for (int64_t x = 0; x < 8; ++x) ink(p, x0 + x, y0), ink(p, x0 + x, y0 + 1);
        break;
      case 3:  // middle bar
        for (int64_t x = 0; x < 8; ++x) ink(p, x0 + x, y0 + 5), ink(p, x0 + x, y0 + 6);
        break;
      case 4:  // bottom bar
        for (int64_t x = 0; x < 8; ++x) ink(p, x0 + x, y0 + 10), ink(p, x0 + x, y0 + 11);
        break;
      default:  // diagonal
        for (int64_t y = 0; y < 12; ++y)
          ink(p, x0 + y * 7 / 11, y0 + y), ink(p, x0 + y * 7 / 11 + 1, y0 + y);
        break;
    }
  }
}

// Text lines (18 px pitch, 10 px per glyph, ~15% word spaces) inside [x0, x1) x [y0, y1).
void text_block(RgbPicture& p, int64_t x0, int64_t y0, int64_t x1, int64_t y1,
                std::mt19937_64& rng) {
  for (int64_t y = y0; y + 12 <= y1; y += 18)
    for (int64_t x = x0; x + 8 <= x1; x += 10)
      if (rng() % 100 >= 15) glyph(p, x, y, rng);
}

}  // namespace

RgbPicture text_corner_picture(uint64_t seed) {
  std::mt19937_64 rng(seed);
  RgbPicture p = noisy_background(rng);
  text_block(p, 28, 28, 196, 196, rng);
  return p;
}

RgbPicture document_picture(uint64_t seed) {
  std::mt19937_64 rng(seed);
  RgbPicture p = noisy_background(rng);
  text_block(p, 28, 28, kSide - 28, kSide - 28, rng);
  return p;
}

RgbPicture flat_picture(uint64_t seed, bool noise) {
  std::mt19937_64 rng(seed);
  RgbPicture p = noisy_background(rng);
  if (!noise)
    for (size_t i = 0; i < p.rgb.size(); ++i) p.rgb[i] = kPaper[i % 3];
  return p;
}

std::vector<bool> ink_cells(const RgbPicture& pic) {
  std::vector<bool> out(static_cast<size_t>(kGrid * kGrid), false);
  for (int64_t y = 0; y < pic.height; ++y)
    for (int64_t x = 0; x < pic.width; ++x)
      if (pic.rgb[static_cast<size_t>((y * pic.width + x) * 3)] == kInk[0])
        out[static_cast<size_t>((y / kPatch) * kGrid + x / kPatch)] = true;
  return out;
}

at::Tensor random_patch_features(const RgbPicture& pic, int64_t dv, uint64_t seed) {
  const at::Tensor img =
      at::from_blob(const_cast<uint8_t*>(pic.rgb.data()), {pic.height, pic.width, 3}, at::kByte)
          .to(at::kFloat)
          .div(255.0)
          .sub(0.5)
          .div(0.5);  // SigLIP's normalisation
  // [48, 14, 48, 14, 3] -> [48, 48, 3, 14, 14] -> [2304, 588] (the conv weight's [3, P, P] order)
  const at::Tensor patches = img.view({kGrid, kPatch, kGrid, kPatch, 3})
                                 .permute({0, 2, 4, 1, 3})
                                 .reshape({kGrid * kGrid, 3 * kPatch * kPatch});
  const at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t in = 3 * kPatch * kPatch;
  const at::Tensor w = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(in)), {dv - 6, in}, gen);
  const at::Tensor b = at::normal(0.0, 0.1, {dv - 6}, gen);
  const at::Tensor linear = at::addmm(b, patches, w.t());
  const at::Tensor per_channel = patches.view({kGrid * kGrid, 3, kPatch * kPatch});
  return at::cat({linear, per_channel.mean(2), per_channel.std(2)}, 1).contiguous();
}

}  // namespace shirg::testing
