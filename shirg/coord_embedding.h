#pragma once
// SHIRG coordinate embedding: (x, y, w, h) -> 128-d multi-frequency sin/cos ("2D rotary")
// features -> the adapter's coord_rotary layer [Dv, 128] -> added to the tokens before the
// projector (docs/shirg.md gives the exact feature layout, which is the adapter's contract).
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "engine/weights/weights.h"

namespace shirg::select {

inline constexpr int64_t kCoordFeatures = 128;  // 4 coordinates x 16 frequencies x (sin, cos)
inline constexpr int64_t kCoordFrequencies = 16;

// Frequency k in cycles per image side: 0.5 * 48^(k / 15), k = 0..15 (0.5 .. 24).
double coord_frequency(int64_t k);

// coords [N, 4] fp32 (x, y, w, h) -> [N, 128] fp32. Layout: for coordinate c in (x, y, w, h):
// columns [32c, 32c+16) = sin(2 pi f_k v_c), [32c+16, 32c+32) = cos(2 pi f_k v_c).
at::Tensor coord_rotary_features(const at::Tensor& coords);

// tokens [N, Dv] + coord_rotary_features(coords) @ layer.weight^T, in the tokens' dtype.
// Returns tokens unchanged when !layer.active() (neither a checkpoint weight nor an adapter) or
// the weight is undefined. Throws std::invalid_argument on shape mismatches.
at::Tensor apply_coord_embedding(const at::Tensor& tokens, const at::Tensor& coords,
                                 const CoordLayerW& layer);

// The seed (4.1): the embedding goes to the selected hi-detail tokens only. tokens [S + K', Dv]
// and coords [S + K', 4] as a Selection holds them (the `scaffold` = S scaffold rows first): the
// first S rows are returned unchanged, the rest get apply_coord_embedding.
at::Tensor apply_coord_embedding_hi_detail(const at::Tensor& tokens, const at::Tensor& coords,
                                           int64_t scaffold, const CoordLayerW& layer);

}  // namespace shirg::select
