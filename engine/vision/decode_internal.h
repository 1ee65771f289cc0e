#pragma once
// Per-format decoders behind decode_image() (internal to shirg_image).
#include <cstddef>
#include <cstdint>

#include "engine/vision/image.h"

namespace shirg::vision::detail {

// Throws ImageError unless 1 <= width, height <= max_side and width * height <= max_pixels.
void check_dimensions(const char* format, int64_t width, int64_t height,
                      const DecodeLimits& limits);

RgbImage decode_jpeg(const uint8_t* data, std::size_t size, const DecodeLimits& limits);
RgbImage decode_png(const uint8_t* data, std::size_t size, const DecodeLimits& limits);

}  // namespace shirg::vision::detail
