// PNG through libspng. spng_get_ihdr() runs first; limits are checked before decoding.
// Output follows PIL's convert("RGB"): alpha and tRNS dropped, palettes expanded, low bit depths
// scaled, 16-bit samples reduced to their high byte. gAMA/iCCP are ignored (as PIL does).
#include <spng.h>

#include <memory>
#include <string>

#include "engine/vision/decode_internal.h"

namespace shirg::vision::detail {
namespace {

struct SpngDeleter {
  void operator()(spng_ctx* c) const { spng_ctx_free(c); }
};

std::string spng_msg(int rc) {
  return spng_strerror(rc);
}

}  // namespace

RgbImage decode_png(const uint8_t* data, std::size_t size, const DecodeLimits& limits) {
  std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(0));
  if (!ctx) throw ImageError("PNG decoder could not be initialised");
  spng_ctx* c = ctx.get();
  // Bound the dimensions spng accepts and the memory spent on ancillary chunks (text, ICC).
  const uint32_t side =
      static_cast<uint32_t>(limits.max_side > 0x7fffffff ? 0x7fffffff : limits.max_side);
  spng_set_image_limits(c, side, side);
  spng_set_chunk_limits(c, 16u << 20, 64u << 20);
  spng_set_crc_action(c, SPNG_CRC_ERROR, SPNG_CRC_DISCARD);  // critical chunk CRC errors are fatal
  if (int rc = spng_set_png_buffer(c, data, size))
    throw ImageError("invalid PNG data: " + spng_msg(rc));

  spng_ihdr ihdr{};
  if (int rc = spng_get_ihdr(c, &ihdr)) {
    if (rc == SPNG_EWIDTH || rc == SPNG_EHEIGHT || rc == SPNG_EUSER_WIDTH ||
        rc == SPNG_EUSER_HEIGHT || rc == SPNG_EOVERFLOW) {
      // spng rejects zero / out-of-range sizes itself; report them with the header's numbers.
      const auto be32 = [&](std::size_t off) {
        return size >= off + 4 ? (int64_t(data[off]) << 24 | int64_t(data[off + 1]) << 16 |
                                  int64_t(data[off + 2]) << 8 | int64_t(data[off + 3]))
                               : int64_t(0);
      };
      check_dimensions("PNG", be32(16), be32(20), limits);
    }
    throw ImageError("invalid PNG header: " + spng_msg(rc));
  }
  check_dimensions("PNG", ihdr.width, ihdr.height, limits);

  std::size_t out_size = 0;
  if (int rc = spng_decoded_image_size(c, SPNG_FMT_RGBA8, &out_size))
    throw ImageError("invalid PNG image: " + spng_msg(rc));
  std::vector<uint8_t> rgba(out_size);
  if (int rc = spng_decode_image(c, rgba.data(), rgba.size(), SPNG_FMT_RGBA8, 0)) {
    if (rc == SPNG_EOF || rc == SPNG_IO_EOF) throw ImageError("PNG data is truncated");
    throw ImageError("corrupt PNG data: " + spng_msg(rc));
  }

  RgbImage out;
  out.width = ihdr.width;
  out.height = ihdr.height;
  const std::size_t n = static_cast<std::size_t>(out.width) * out.height;
  out.rgb.resize(n * 3);
  for (std::size_t i = 0; i < n; ++i) {
    out.rgb[i * 3 + 0] = rgba[i * 4 + 0];
    out.rgb[i * 3 + 1] = rgba[i * 4 + 1];
    out.rgb[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return out;
}

}  // namespace shirg::vision::detail
