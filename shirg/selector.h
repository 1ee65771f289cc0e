#pragma once
// SHIRG static hierarchical token selection (docs/shirg.md): scaffold + scored, merged, top-K
// hi-detail tokens with their boxes. Deterministic: the same input gives the same selection.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "shirg/select_params.h"

namespace shirg::select {

struct SelectionInput {
  at::Tensor features;  // [G*G, Dv] any float dtype, raster order (G = 48 at 672)
  int64_t grid = 48;
  at::Tensor projected;     // query-aware only: [G*G, D] the tokens after the projector
  at::Tensor query_embeds;  // query-aware only: [T, D] the question's token embeddings
};

struct Selection {
  // [S + K', Dv] features dtype: scaffold first (raster over 8x8), then the kept hi-detail tokens
  // in raster order of their top-left cell; a merged token is the area-weighted centroid (equal
  // cell areas: the mean) of its cells' features.
  at::Tensor tokens;
  // [S + K', 4] fp32 (x, y, w, h): box centre and size, normalised by the image side, in [0, 1].
  at::Tensor coords;
  std::vector<int64_t> kept_indices;  // every cell covered by a kept hi-detail token, ascending
  std::vector<std::vector<int64_t>> token_cells;  // per hi-detail token (row order of tokens
                                                  // after the scaffold): its cells, ascending
  at::Tensor scores;                              // [G*G] fp32 final scores s (on the CPU)
  // [G*G] fp32 normalised terms in [0, 1] (CPU): Sim, D_neighbors, D_center.
  at::Tensor sim_term, neighbor_term, center_term;
  int64_t scaffold_tokens = 0, hi_detail_tokens = 0, merged_groups = 0;
  int64_t k = 0;          // the budget used (fixed, or adaptive), after clamping to G*G
  double complexity = 0;  // image complexity in [0, 1] (drives adaptive K)
};

// Throws std::invalid_argument with a clear message on bad input (shapes, dtypes, grid, params,
// NaN/Inf features, missing query tensors in query-aware mode).
Selection select_tokens(const SelectionInput& in, const SelectorParams& p);

// The box (x, y, w, h) of scaffold window (i, j) of the 8x8 pooling over a grid x grid raster,
// and its cell range [r0, r1) x [c0, c1).
struct ScaffoldWindow {
  int64_t r0, r1, c0, c1;
};
ScaffoldWindow scaffold_window(int64_t grid, int64_t i, int64_t j);
inline constexpr int64_t kScaffoldSide = 8;

}  // namespace shirg::select
