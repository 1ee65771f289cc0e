#include "server/test_pattern.h"

#include <spng.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <vector>

namespace shirg::rpc {

std::string make_test_pattern_png(int width, int height, uint32_t seed) {
  if (width < 1 || height < 1 || width > 8192 || height > 8192)
    throw std::invalid_argument("test pattern size must be in [1, 8192]");
  const auto w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
  std::vector<unsigned char> rgb(w * h * 3);
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

  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  if (!ctx) throw std::runtime_error("spng_ctx_new failed");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(width);
  ihdr.height = static_cast<uint32_t>(height);
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  spng_set_ihdr(ctx.get(), &ihdr);
  if (int err =
          spng_encode_image(ctx.get(), rgb.data(), rgb.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE))
    throw std::runtime_error(std::string("PNG encoding failed: ") + spng_strerror(err));
  std::size_t len = 0;
  int err = 0;
  void* buf = spng_get_png_buffer(ctx.get(), &len, &err);
  if (!buf || err)
    throw std::runtime_error(std::string("PNG encoding failed: ") + spng_strerror(err));
  std::string out(static_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

}  // namespace shirg::rpc
