#pragma once
// A PNG picture of what SHIRG kept: the image with kept hi-detail cells at full brightness,
// dropped cells dimmed, merged tokens outlined (cyan) and the 8x8 scaffold grid drawn (yellow)
// when the selection has a scaffold.
#include <cstdint>
#include <string>
#include <vector>

#include "shirg/selector.h"

namespace shirg::select {

// rgb: width*height*3 bytes (the image the features came from, any size: cells map onto it
// proportionally). grid: the selection's grid side. Returns PNG bytes. Throws
// std::invalid_argument on bad sizes or on cell indices outside the grid.
std::string render_overlay_png(const uint8_t* rgb, int64_t width, int64_t height,
                               const Selection& sel, int64_t grid);

// The same picture as raw RGB bytes (width*height*3), for tests and tools.
std::vector<uint8_t> render_overlay_rgb(const uint8_t* rgb, int64_t width, int64_t height,
                                        const Selection& sel, int64_t grid);

}  // namespace shirg::select
