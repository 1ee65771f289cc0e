#pragma once
// Per-cell score arithmetic of SHIRG on plain vectors (one float per hi-detail cell, raster
// order). No LibTorch: these run on 2,304 floats and are exact, deterministic C++.
#include <cstdint>
#include <vector>

#include "shirg/select_params.h"

namespace shirg::select {

// Percentile min-max normalisation to [0, 1]: lo = 1st, hi = 99th percentile (nearest rank),
// out = clamp((x - lo) / (hi - lo), 0, 1). A term whose spread hi - lo is below flat_tol (in the
// raw term's units) carries no information and becomes all zeros. Throws on NaN/Inf input.
std::vector<float> percentile_unit_range(const std::vector<float>& raw, double flat_tol,
                                         const char* term_name);

// D_center of every cell of a grid x grid raster: Euclidean distance from the cell centre to the
// image centre in image-normalised coordinates, divided by the half diagonal sqrt(0.5), so the
// image corner is 1 and the term lies in [0, 1).
std::vector<float> center_distance(int64_t grid);

// s = w.sim * sim - w.neighbor * neighbor - w.center * center (the distance terms are dropped
// when distance_terms is false). All inputs have the same length.
std::vector<float> combine_scores(const std::vector<float>& sim, const std::vector<float>& neighbor,
                                  const std::vector<float>& center, const ScoreWeights& w,
                                  bool distance_terms);

// Image complexity in [0, 1]: the fraction of cells whose normalised local-contrast term
// (D_neighbors in [0, 1]) is at least 0.5.
double image_complexity(const std::vector<float>& neighbor_term);

// Adaptive K = k_min + round(complexity * (k_max - k_min)).
int64_t adaptive_k(double complexity, int64_t k_min, int64_t k_max);

}  // namespace shirg::select
