// JPEG through the TurboJPEG 2.x API. The header is read first; limits are checked before the
// output buffer is allocated. Fatal libjpeg errors and truncation are rejected; other libjpeg
// warnings (e.g. extraneous bytes) are tolerated as PIL tolerates them.
#include <turbojpeg.h>

#include <memory>
#include <string>

#include "engine/vision/decode_internal.h"

namespace shirg::vision::detail {
namespace {

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};

std::string tj_error(tjhandle h) {
  return tjGetErrorStr2(h);
}

// PIL's CMYK -> RGB (Convert.c cmyk2rgb) on already-inverted (Adobe convention) samples.
inline uint8_t cmyk_channel(int c, int nk) {
  int tmp = c * nk + 128;
  const int muldiv = ((tmp >> 8) + tmp) >> 8;
  const int v = nk - muldiv;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

RgbImage decode_jpeg(const uint8_t* data, std::size_t size, const DecodeLimits& limits) {
  std::unique_ptr<void, TjDeleter> handle(tjInitDecompress());
  if (!handle) throw ImageError("JPEG decoder could not be initialised");
  tjhandle h = handle.get();
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  auto* buf =
      const_cast<unsigned char*>(data);  // TurboJPEG 2.x is not const-correct; it only reads
  if (tjDecompressHeader3(h, buf, static_cast<unsigned long>(size), &width, &height, &subsamp,
                          &colorspace) != 0)
    throw ImageError("invalid JPEG header: " + tj_error(h));
  check_dimensions("JPEG", width, height, limits);

  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const int channels = cmyk ? 4 : 3;
  std::vector<uint8_t> pixels(static_cast<std::size_t>(width) * height * channels);
  const int flags = TJFLAG_LIMITSCANS;  // bounds the work a progressive "scan bomb" can cause
  const int rc = tjDecompress2(h, buf, static_cast<unsigned long>(size), pixels.data(), width, 0,
                               height, cmyk ? TJPF_CMYK : TJPF_RGB, flags);
  if (rc != 0) {
    const std::string msg = tj_error(h);
    if (tjGetErrorCode(h) == TJERR_FATAL) throw ImageError("corrupt JPEG data: " + msg);
    if (msg.find("Premature end") != std::string::npos)
      throw ImageError("JPEG data is truncated: " + msg);
  }

  RgbImage out;
  out.width = width;
  out.height = height;
  if (!cmyk) {
    out.rgb = std::move(pixels);
    return out;
  }
  // PIL reads every 4-channel JPEG as inverted ("CMYK;I", Adobe convention), then cmyk2rgb.
  out.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  const std::size_t n = static_cast<std::size_t>(width) * height;
  for (std::size_t i = 0; i < n; ++i) {
    const uint8_t* s = &pixels[i * 4];
    const int nk = s[3];  // 255 - inverted K
    for (int c = 0; c < 3; ++c) out.rgb[i * 3 + c] = cmyk_channel(255 - s[c], nk);
  }
  return out;
}

}  // namespace shirg::vision::detail
