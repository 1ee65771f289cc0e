#pragma once
// Minimal PNG encoder (libspng) for 8-bit RGB images. No LibTorch.
#include <cstdint>
#include <string>

namespace shirg::select {

// rgb: width*height*3 bytes, row-major, no padding. Returns the PNG file bytes.
// Throws std::invalid_argument on bad sizes, std::runtime_error if encoding fails.
std::string encode_png_rgb(const uint8_t* rgb, int64_t width, int64_t height);

}  // namespace shirg::select
