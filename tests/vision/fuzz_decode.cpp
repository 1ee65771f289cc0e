// libFuzzer target for decode_image (JPEG/PNG from untrusted bytes) and a resize of the result.
// Build: cmake -DSHIRG_BUILD_FUZZERS=ON -DCMAKE_CXX_COMPILER=clang++ ; run: ./fuzz_decode
// -max_len=65536
#include <cstddef>
#include <cstdint>

#include "engine/vision/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  shirg::vision::DecodeLimits limits;
  limits.max_pixels = 4'000'000;  // keep each run small; the limit logic itself is exercised
  limits.max_side = 8192;
  try {
    const shirg::vision::RgbImage img = shirg::vision::decode_image(data, size, limits);
    if (img.rgb.size() != static_cast<std::size_t>(img.width * img.height * 3)) __builtin_trap();
    if (img.width * img.height <= 1'000'000) (void)shirg::vision::resize_bicubic(img, 37, 23);
  } catch (const shirg::vision::ImageError&) {
  }
  return 0;
}
