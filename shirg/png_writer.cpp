#include "shirg/png_writer.h"

#include <spng.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace shirg::select {

std::string encode_png_rgb(const uint8_t* rgb, int64_t width, int64_t height) {
  if (rgb == nullptr || width < 1 || height < 1 || width > (1 << 16) || height > (1 << 16))
    throw std::invalid_argument("PNG encode: bad image (null pixels or size " +
                                std::to_string(width) + "x" + std::to_string(height) + ")");
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  if (!ctx) throw std::runtime_error("PNG encode: spng_ctx_new failed");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(width);
  ihdr.height = static_cast<uint32_t>(height);
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  int err = spng_set_ihdr(ctx.get(), &ihdr);
  const size_t bytes = static_cast<size_t>(width) * static_cast<size_t>(height) * 3;
  if (err == 0) err = spng_encode_image(ctx.get(), rgb, bytes, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  if (err != 0) throw std::runtime_error(std::string("PNG encode: ") + spng_strerror(err));
  size_t len = 0;
  void* buf = spng_get_png_buffer(ctx.get(), &len, &err);
  if (buf == nullptr || err != 0)
    throw std::runtime_error(std::string("PNG encode: ") + spng_strerror(err));
  std::string out(static_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

}  // namespace shirg::select
