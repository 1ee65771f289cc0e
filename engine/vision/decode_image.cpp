#include <cstring>
#include <string>

#include "engine/vision/decode_internal.h"
#include "engine/vision/image.h"

namespace shirg::vision {
namespace detail {

void check_dimensions(const char* format, int64_t width, int64_t height,
                      const DecodeLimits& limits) {
  const std::string dims = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0)
    throw ImageError(std::string(format) + " image has an empty size (" + dims + ")");
  if (width > limits.max_side || height > limits.max_side)
    throw ImageError(std::string(format) + " image is " + dims + ", larger than the limit of " +
                     std::to_string(limits.max_side) + " pixels per side");
  if (width * height > limits.max_pixels)
    throw ImageError(std::string(format) + " image is " + dims + " (" +
                     std::to_string(width * height) + " pixels), more than the limit of " +
                     std::to_string(limits.max_pixels) + " pixels");
}

}  // namespace detail

RgbImage decode_image(const void* data, std::size_t size, const DecodeLimits& limits) {
  if (data == nullptr || size == 0) throw ImageError("image data is empty");
  if (size > limits.max_bytes)
    throw ImageError("image data is " + std::to_string(size) + " bytes, more than the limit of " +
                     std::to_string(limits.max_bytes) + " bytes");
  const auto* p = static_cast<const uint8_t*>(data);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)
    return detail::decode_jpeg(p, size, limits);
  if (size >= 8 && std::memcmp(p, kPng, 8) == 0) return detail::decode_png(p, size, limits);
  if (size < 8 && std::memcmp(p, kPng, size) == 0) throw ImageError("PNG data is truncated");
  throw ImageError("unsupported image format (only JPEG and PNG are accepted)");
}

}  // namespace shirg::vision
