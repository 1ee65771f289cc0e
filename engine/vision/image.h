#pragma once
// 8-bit RGB images from untrusted bytes (no LibTorch): decoding with limits checked from the
// header before any large allocation, and PIL-exact bicubic resizing.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::vision {

// Row-major HWC, 3 bytes per pixel: rgb.size() == width * height * 3.
struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

// Defaults: 32 MiB of encoded bytes, 50 megapixels, 20000 pixels per side.
struct DecodeLimits {
  std::size_t max_bytes = 32u << 20;
  int64_t max_pixels = 50'000'000;
  int64_t max_side = 20000;
};

// Bad or unsupported image data. The message is shown to the user (INVALID_ARGUMENT).
class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Sniffs the magic bytes and decodes JPEG (TurboJPEG) or PNG (libspng) to 8-bit RGB, as PIL's
// Image.open(...).convert("RGB") does: gray is replicated, alpha dropped, palettes expanded,
// 16-bit samples reduced to their high byte, CMYK/YCCK JPEG converted (Adobe inversion honoured).
// Throws ImageError for empty, unknown, truncated, corrupt or over-limit input.
RgbImage decode_image(const void* data, std::size_t size, const DecodeLimits& limits = {});

// PIL's Image.resize((width, height), Image.BICUBIC) on an RGB image, bit-exact: separable
// convolution (horizontal pass first), a = -0.5, support scaled by the shrink factor
// (antialiasing), 22-bit fixed-point coefficients, rounding and clipping after each pass.
// Throws ImageError for an empty image or a non-positive target size.
RgbImage resize_bicubic(const RgbImage& img, int64_t width, int64_t height);

// Lossless 8-bit RGB PNG. Throws ImageError on failure.
std::string encode_png(const RgbImage& img);

}  // namespace shirg::vision
