#include <spng.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "engine/vision/image.h"

namespace shirg::vision {

std::string encode_png(const RgbImage& img) {
  if (img.width <= 0 || img.height <= 0 || img.width > 0x7fffffff || img.height > 0x7fffffff ||
      img.rgb.size() != static_cast<std::size_t>(img.width * img.height * 3))
    throw ImageError("encode_png: the image is empty or inconsistent");
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(SPNG_CTX_ENCODER), spng_ctx_free);
  if (!ctx) throw ImageError("encode_png: encoder could not be initialised");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(img.width);
  ihdr.height = static_cast<uint32_t>(img.height);
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  int rc = spng_set_ihdr(ctx.get(), &ihdr);
  if (rc == 0)
    rc = spng_encode_image(ctx.get(), img.rgb.data(), img.rgb.size(), SPNG_FMT_PNG,
                           SPNG_ENCODE_FINALIZE);
  if (rc != 0) throw ImageError(std::string("encode_png: ") + spng_strerror(rc));
  std::size_t len = 0;
  int err = 0;
  void* buf = spng_get_png_buffer(ctx.get(), &len, &err);
  if (buf == nullptr || err != 0)
    throw ImageError(std::string("encode_png: ") + spng_strerror(err));
  std::string out(static_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

}  // namespace shirg::vision
