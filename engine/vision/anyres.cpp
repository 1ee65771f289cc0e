#include "engine/vision/anyres.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

namespace shirg::vision {

std::vector<Resolution> default_grid_pinpoints() {
  return {{384, 768}, {768, 384}, {768, 768}, {1152, 384}, {384, 1152}};
}

Resolution select_best_resolution(int64_t width, int64_t height,
                                  const std::vector<Resolution>& pinpoints) {
  if (pinpoints.empty()) throw ImageError("anyres: no grid pinpoints");
  if (width <= 0 || height <= 0) throw ImageError("anyres: empty image");
  Resolution best{0, 0};
  int64_t max_effective = 0;
  double min_wasted = std::numeric_limits<double>::infinity();
  for (const auto& [w, h] : pinpoints) {
    if (w <= 0 || h <= 0) throw ImageError("anyres: invalid grid pinpoint");
    const double scale = std::min(static_cast<double>(w) / width, static_cast<double>(h) / height);
    const auto dw = static_cast<int64_t>(width * scale), dh = static_cast<int64_t>(height * scale);
    const int64_t effective = std::min(dw * dh, width * height);
    const double wasted = static_cast<double>(w * h - effective);
    if (effective > max_effective || (effective == max_effective && wasted < min_wasted)) {
      max_effective = effective;
      min_wasted = wasted;
      best = {w, h};
    }
  }
  if (best.first == 0) best = pinpoints.front();  // only when every candidate rounds to nothing
  return best;
}

RgbImage resize_and_pad(const RgbImage& img, Resolution target) {
  const auto [tw, th] = target;
  const double sw = static_cast<double>(tw) / img.width, sh = static_cast<double>(th) / img.height;
  int64_t nw, nh;
  if (sw < sh) {
    nw = tw;
    nh = std::min(static_cast<int64_t>(std::ceil(img.height * sw)), th);
  } else {
    nh = th;
    nw = std::min(static_cast<int64_t>(std::ceil(img.width * sh)), tw);
  }
  const RgbImage resized = resize_bicubic(img, nw, nh);
  RgbImage out;
  out.width = tw;
  out.height = th;
  out.rgb.assign(static_cast<std::size_t>(tw * th * 3), 0);
  const int64_t px = (tw - nw) / 2, py = (th - nh) / 2;
  for (int64_t y = 0; y < nh; ++y)
    std::memcpy(&out.rgb[((y + py) * tw + px) * 3], &resized.rgb[y * nw * 3],
                static_cast<std::size_t>(nw * 3));
  return out;
}

std::vector<RgbImage> divide_to_tiles(const RgbImage& img, int64_t side) {
  if (side <= 0 || img.width % side != 0 || img.height % side != 0)
    throw ImageError("anyres: image " + std::to_string(img.width) + "x" +
                     std::to_string(img.height) + " is not a multiple of the tile side " +
                     std::to_string(side));
  std::vector<RgbImage> tiles;
  for (int64_t ty = 0; ty < img.height; ty += side) {
    for (int64_t tx = 0; tx < img.width; tx += side) {
      RgbImage t;
      t.width = t.height = side;
      t.rgb.resize(static_cast<std::size_t>(side * side * 3));
      for (int64_t y = 0; y < side; ++y)
        std::memcpy(&t.rgb[y * side * 3], &img.rgb[((ty + y) * img.width + tx) * 3],
                    static_cast<std::size_t>(side * 3));
      tiles.push_back(std::move(t));
    }
  }
  return tiles;
}

UnpadBox unpad_box(int64_t rows, int64_t cols, int64_t width, int64_t height) {
  const double original_aspect = static_cast<double>(width) / height;
  const double current_aspect = static_cast<double>(cols) / rows;
  if (original_aspect > current_aspect) {
    const double scale = static_cast<double>(cols) / width;
    const auto new_h = static_cast<int64_t>(height * scale);
    const int64_t pad = (rows - new_h) / 2;
    return {pad, rows - pad, 0, cols};
  }
  const double scale = static_cast<double>(rows) / height;
  const auto new_w = static_cast<int64_t>(width * scale);
  const int64_t pad = (cols - new_w) / 2;
  return {0, rows, pad, cols - pad};
}

}  // namespace shirg::vision
