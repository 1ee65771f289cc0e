#include "server/test_pattern.h"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "engine/vision/image.h"

namespace shirg::rpc {

std::string make_test_pattern_png(int width, int height, uint32_t seed) {
  if (width < 1 || height < 1 || width > 8192 || height > 8192)
    throw std::invalid_argument("test pattern size must be in [1, 8192]");
  const auto w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
  std::vector<uint8_t> rgb(w * h * 3);
  for (std::size_t y = 0; y < h; ++y)
    for (std::size_t x = 0; x < w; ++x) {
      unsigned char* p = &rgb[(y * w + x) * 3];
      p[0] = static_cast<unsigned char>((x * 255) / w);
      p[1] = static_cast<unsigned char>((y * 255) / h);
      p[2] = static_cast<unsigned char>(((x + y) * 127) / (w + h) + (seed * 37u) % 128u);
    }
  uint32_t state = seed * 2654435761u + 12345u;  // LCG for the rectangles
  auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  for (int r = 0; r < 4; ++r) {
    const std::size_t x0 = next() % w, y0 = next() % h;
    const std::size_t rw = 1 + next() % (w / 3 + 1), rh = 1 + next() % (h / 3 + 1);
    const unsigned char col[3] = {static_cast<unsigned char>(next() >> 24),
                                  static_cast<unsigned char>(next() >> 24),
                                  static_cast<unsigned char>(next() >> 24)};
    for (std::size_t y = y0; y < std::min(h, y0 + rh); ++y)
      for (std::size_t x = x0; x < std::min(w, x0 + rw); ++x)
        for (int c = 0; c < 3; ++c) rgb[(y * w + x) * 3 + c] = col[c];
  }

  vision::RgbImage img;
  img.width = width;
  img.height = height;
  img.rgb = std::move(rgb);
  return vision::encode_png(img);
}

}  // namespace shirg::rpc
