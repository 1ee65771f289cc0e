#pragma once
// Deterministic test images encoded as PNG (uses shirg_image's encoder).
#include <cstdint>
#include <string>

namespace shirg::testing {

// A width x height RGB image: flat light background, a dark "text" block of thin strokes in the
// top-left corner and a coloured bar chart in the lower half. Encoded as PNG.
std::string chart_png(int64_t width = 512, int64_t height = 512);

}  // namespace shirg::testing
