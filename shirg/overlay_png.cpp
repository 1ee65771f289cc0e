#include "shirg/overlay_png.h"

#include <algorithm>
#include <stdexcept>

#include "engine/vision/image.h"

namespace shirg::select {
namespace {

constexpr uint8_t kScaffoldColor[3] = {255, 200, 0};
constexpr uint8_t kMergedColor[3] = {0, 200, 255};
constexpr int kDimNumerator = 30;  // dropped cells keep 30% of their brightness

}  // namespace

std::vector<uint8_t> render_overlay_rgb(const uint8_t* rgb, int64_t width, int64_t height,
                                        const Selection& sel, int64_t grid) {
  if (rgb == nullptr || width < 1 || height < 1 || width > 16384 || height > 16384)
    throw std::invalid_argument("SHIRG overlay: bad image (null pixels or size " +
                                std::to_string(width) + "x" + std::to_string(height) + ")");
  if (grid < 1 || grid > width || grid > height)
    throw std::invalid_argument("SHIRG overlay: grid " + std::to_string(grid) +
                                " does not fit the image");
  const int64_t n = grid * grid;
  std::vector<uint8_t> kept(static_cast<size_t>(n), 0);
  for (int64_t cell : sel.kept_indices) {
    if (cell < 0 || cell >= n)
      throw std::invalid_argument("SHIRG overlay: kept cell " + std::to_string(cell) +
                                  " outside the " + std::to_string(grid) + "x" +
                                  std::to_string(grid) + " grid");
    kept[static_cast<size_t>(cell)] = 1;
  }
  std::vector<uint8_t> out(rgb, rgb + width * height * 3);
  std::vector<int64_t> col_of(static_cast<size_t>(width)), row_of(static_cast<size_t>(height));
  for (int64_t x = 0; x < width; ++x) col_of[static_cast<size_t>(x)] = x * grid / width;
  for (int64_t y = 0; y < height; ++y) row_of[static_cast<size_t>(y)] = y * grid / height;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      if (kept[static_cast<size_t>(row_of[static_cast<size_t>(y)] * grid +
                                   col_of[static_cast<size_t>(x)])])
        continue;
      uint8_t* px = &out[static_cast<size_t>((y * width + x) * 3)];
      for (int ch = 0; ch < 3; ++ch) px[ch] = static_cast<uint8_t>(px[ch] * kDimNumerator / 100);
    }
  auto paint = [&](int64_t x, int64_t y, const uint8_t* color) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* px = &out[static_cast<size_t>((y * width + x) * 3)];
    std::copy(color, color + 3, px);
  };
  // Pixel edge of grid line a (0..grid) along a side of `side` pixels.
  auto edge = [grid](int64_t a, int64_t side) { return (a * side + grid - 1) / grid; };
  auto rect = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1, const uint8_t* color,
                  int64_t thick) {
    const int64_t x0 = edge(c0, width), x1 = edge(c1, width) - 1;
    const int64_t y0 = edge(r0, height), y1 = edge(r1, height) - 1;
    for (int64_t t = 0; t < thick; ++t) {
      for (int64_t x = x0; x <= x1; ++x) {
        paint(x, y0 + t, color);
        paint(x, y1 - t, color);
      }
      for (int64_t y = y0; y <= y1; ++y) {
        paint(x0 + t, y, color);
        paint(x1 - t, y, color);
      }
    }
  };
  for (const auto& cells : sel.token_cells) {
    if (cells.size() < 2) continue;
    int64_t r0 = grid, r1 = 0, c0 = grid, c1 = 0;
    for (int64_t cell : cells) {
      if (cell < 0 || cell >= n) throw std::invalid_argument("SHIRG overlay: bad token cell");
      r0 = std::min(r0, cell / grid);
      r1 = std::max(r1, cell / grid + 1);
      c0 = std::min(c0, cell % grid);
      c1 = std::max(c1, cell % grid + 1);
    }
    rect(r0, r1, c0, c1, kMergedColor, 1);
  }
  if (sel.scaffold_tokens > 0) {
    const int64_t thick = std::max<int64_t>(1, std::min(width, height) / 336);
    for (int64_t i = 0; i < kScaffoldSide; ++i)
      for (int64_t j = 0; j < kScaffoldSide; ++j) {
        const ScaffoldWindow w = scaffold_window(grid, i, j);
        rect(w.r0, w.r1, w.c0, w.c1, kScaffoldColor, thick);
      }
  }
  return out;
}

std::string render_overlay_png(const uint8_t* rgb, int64_t width, int64_t height,
                               const Selection& sel, int64_t grid) {
  vision::RgbImage img;
  img.width = width;
  img.height = height;
  img.rgb = render_overlay_rgb(rgb, width, height, sel, grid);
  return vision::encode_png(img);
}

}  // namespace shirg::select
