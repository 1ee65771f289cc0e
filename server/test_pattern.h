#pragma once
// Deterministic synthetic RGB images encoded as PNG: the server's warm-up input, also used by
// the tests. No LibTorch.
#include <cstdint>
#include <string>

namespace shirg::rpc {

// A width x height 8-bit RGB PNG: diagonal colour gradients plus a few solid rectangles whose
// positions and colours follow `seed` (the same seed gives the same bytes). Throws
// std::invalid_argument for sizes outside [1, 8192] and std::runtime_error if encoding fails.
std::string make_test_pattern_png(int width, int height, uint32_t seed);

}  // namespace shirg::rpc
