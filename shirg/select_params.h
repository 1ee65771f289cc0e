#pragma once
// SHIRG selector parameters and the mapping from a request's SelectionOptions to them.
// No LibTorch here.
#include <cstdint>
#include <string>

#include "engine/api/request.h"

namespace shirg::select {

// Weights of the three score terms; each term is normalised to [0, 1] first (docs/shirg.md), so
// s = sim * Sim - neighbor * D_neighbors - center * D_center lies in [-(neighbor+center), sim].
struct ScoreWeights {
  double sim = 0.7, neighbor = 0.2, center = 0.1;
};

struct SelectorParams {
  int64_t k = 1152;  // hi-detail tokens kept (clamped to the grid's cell count)
  bool adaptive_k = false;
  int64_t k_min = 576, k_max = 1536;  // adaptive bounds (inclusive)
  bool scaffold = true;               // 64 scaffold tokens (8x8 average pool of the grid)
  bool distance_terms = true;         // false = similarity-only ablation
  bool merge = true;                  // neighbour-aware merging (bounded 2x2 blocks)
  double epsilon = 0.05;              // merge threshold on the final score
  bool random_k = false;              // random-K ablation (seeded, no merging)
  uint64_t seed = 0;
  bool coords = true;  // no-coords ablation: the caller skips the coordinate embedding
  bool query_aware = false;
  ScoreWeights weights;
};

// Parameters for a SHIRG-family mode (kShirg, kNoScaffold, kNoCoords, kSimilarityOnly, kNoMerge,
// kRandomK). Throws std::invalid_argument for modes that do no selection (baseline-384,
// lavida-hd, full-672) and for invalid K bounds.
SelectorParams params_for(const SelectionOptions& opts, uint64_t seed);

// Throws std::invalid_argument with a message naming the bad field; returns normally when valid.
void validate(const SelectorParams& p);

}  // namespace shirg::select
