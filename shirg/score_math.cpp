#include "shirg/score_math.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace shirg::select {

std::vector<float> percentile_unit_range(const std::vector<float>& raw, double flat_tol,
                                         const char* term_name) {
  const size_t n = raw.size();
  std::vector<float> out(n, 0.0f);
  if (n == 0) return out;
  for (float v : raw)
    if (!std::isfinite(v))
      throw std::invalid_argument(std::string("SHIRG selection: the ") + term_name +
                                  " term is not finite (NaN/Inf in the input features?)");
  std::vector<float> sorted(raw);
  std::sort(sorted.begin(), sorted.end());
  auto rank = [&](double q) {
    return sorted[static_cast<size_t>(std::floor(q * static_cast<double>(n - 1) + 0.5))];
  };
  const double lo = rank(0.01), hi = rank(0.99);
  if (!(hi - lo >= flat_tol)) return out;  // flat: no information in this term
  const double inv = 1.0 / (hi - lo);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<float>(std::clamp((static_cast<double>(raw[i]) - lo) * inv, 0.0, 1.0));
  return out;
}

std::vector<float> center_distance(int64_t grid) {
  std::vector<float> out(static_cast<size_t>(grid * grid));
  const double half_diag = std::sqrt(0.5);
  for (int64_t r = 0; r < grid; ++r)
    for (int64_t c = 0; c < grid; ++c) {
      const double dx = (static_cast<double>(c) + 0.5) / static_cast<double>(grid) - 0.5;
      const double dy = (static_cast<double>(r) + 0.5) / static_cast<double>(grid) - 0.5;
      out[static_cast<size_t>(r * grid + c)] =
          static_cast<float>(std::sqrt(dx * dx + dy * dy) / half_diag);
    }
  return out;
}

std::vector<float> combine_scores(const std::vector<float>& sim, const std::vector<float>& neighbor,
                                  const std::vector<float>& center, const ScoreWeights& w,
                                  bool distance_terms) {
  const size_t n = sim.size();
  if (neighbor.size() != n || center.size() != n)
    throw std::invalid_argument("SHIRG selection: score terms of different lengths");
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    double s = w.sim * sim[i];
    if (distance_terms) s -= w.neighbor * neighbor[i] + w.center * center[i];
    out[i] = static_cast<float>(s);
  }
  return out;
}

double image_complexity(const std::vector<float>& neighbor_term) {
  if (neighbor_term.empty()) return 0;
  const auto busy =
      std::count_if(neighbor_term.begin(), neighbor_term.end(), [](float v) { return v >= 0.5f; });
  return static_cast<double>(busy) / static_cast<double>(neighbor_term.size());
}

int64_t adaptive_k(double complexity, int64_t k_min, int64_t k_max) {
  const double c = std::clamp(complexity, 0.0, 1.0);
  return k_min + static_cast<int64_t>(std::llround(c * static_cast<double>(k_max - k_min)));
}

}  // namespace shirg::select
