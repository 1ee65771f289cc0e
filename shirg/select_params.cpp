#include "shirg/select_params.h"

#include <cmath>
#include <stdexcept>

namespace shirg::select {

SelectorParams params_for(const SelectionOptions& opts, uint64_t seed) {
  SelectorParams p;
  p.k = opts.k;
  p.adaptive_k = opts.adaptive_k;
  p.k_min = opts.k_min;
  p.k_max = opts.k_max;
  p.query_aware = opts.query_aware;
  p.seed = seed;
  switch (opts.mode) {
    case SelectionMode::kShirg:
      break;
    case SelectionMode::kNoScaffold:
      p.scaffold = false;
      break;
    case SelectionMode::kNoCoords:
      p.coords = false;
      break;
    case SelectionMode::kSimilarityOnly:
      p.distance_terms = false;
      break;
    case SelectionMode::kNoMerge:
      p.merge = false;
      break;
    case SelectionMode::kRandomK:
      p.random_k = true;
      p.merge = false;
      break;
    case SelectionMode::kBaseline384:
    case SelectionMode::kLavida384:
    case SelectionMode::kLavidaHd:
    case SelectionMode::kFull672:
      throw std::invalid_argument(std::string("SHIRG selection: mode ") +
                                  selection_mode_name(opts.mode) + " does not select tokens");
  }
  validate(p);
  return p;
}

void validate(const SelectorParams& p) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("SHIRG selection: " + what);
  };
  if (p.adaptive_k) {
    if (p.k_min < 1) fail("k_min must be >= 1 (got " + std::to_string(p.k_min) + ")");
    if (p.k_max < p.k_min)
      fail("k_max (" + std::to_string(p.k_max) + ") must be >= k_min (" + std::to_string(p.k_min) +
           ")");
  } else if (p.k < 1) {
    fail("k must be >= 1 (got " + std::to_string(p.k) + ")");
  }
  if (!std::isfinite(p.epsilon) || p.epsilon < 0) fail("epsilon must be finite and >= 0");
  const ScoreWeights& w = p.weights;
  if (!std::isfinite(w.sim) || !std::isfinite(w.neighbor) || !std::isfinite(w.center) ||
      w.sim < 0 || w.neighbor < 0 || w.center < 0)
    fail("score weights must be finite and >= 0");
}

}  // namespace shirg::select
