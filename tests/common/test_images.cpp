#include "tests/common/test_images.h"

#include "engine/vision/image.h"

namespace shirg::testing {

std::string chart_png(int64_t w, int64_t h) {
  vision::RgbImage img;
  img.width = w;
  img.height = h;
  img.rgb.assign(static_cast<std::size_t>(w * h * 3), 235);
  auto px = [&](int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    auto* p = &img.rgb[static_cast<std::size_t>((y * w + x) * 3)];
    p[0] = r, p[1] = g, p[2] = b;
  };
  // "Text": rows of short vertical strokes in the top-left corner.
  for (int64_t row = 0; row < 4; ++row)
    for (int64_t c = 0; c < 20; ++c)
      for (int64_t y = 0; y < 7; ++y)
        if ((c * 7 + row * 3) % 5 != 0) px(10 + c * 4, 10 + row * 12 + y, 20, 20, 20);
  // Bars.
  const uint8_t colours[4][3] = {{200, 40, 40}, {40, 160, 60}, {40, 80, 200}, {220, 160, 30}};
  for (int64_t b = 0; b < 4; ++b) {
    const int64_t x0 = w / 8 + b * w / 5, bar_h = h / 6 + b * h / 12;
    for (int64_t x = x0; x < x0 + w / 8; ++x)
      for (int64_t y = h - 20 - bar_h; y < h - 20; ++y) px(x, y, colours[b][0], colours[b][1], colours[b][2]);
  }
  return vision::encode_png(img);
}

}  // namespace shirg::testing
