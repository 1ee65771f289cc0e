#include "clients/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace shirg::clients {

double percentile(std::vector<double> values, double p) {
  if (values.empty()) throw std::invalid_argument("percentile of an empty set");
  if (!(p >= 0.0 && p <= 100.0)) {
    throw std::invalid_argument("percentile must be in [0, 100], got " + std::to_string(p));
  }
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  if (values.empty()) return s;
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  s.count = sorted.size();
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(s.count);
  s.min = sorted.front();
  s.max = sorted.back();
  s.p50 = percentile(sorted, 50);
  s.p90 = percentile(sorted, 90);
  s.p95 = percentile(sorted, 95);
  s.p99 = percentile(sorted, 99);
  return s;
}

std::size_t Histogram::total() const {
  return std::accumulate(counts.begin(), counts.end(), std::size_t{0});
}

Histogram make_histogram(const std::vector<double>& values,
                         const std::vector<double>& upper_bounds) {
  if (upper_bounds.empty()) throw std::invalid_argument("histogram needs at least one bound");
  for (std::size_t i = 1; i < upper_bounds.size(); ++i) {
    if (!(upper_bounds[i] > upper_bounds[i - 1])) {
      throw std::invalid_argument("histogram bounds must be strictly increasing");
    }
  }
  Histogram h{upper_bounds, std::vector<std::size_t>(upper_bounds.size() + 1, 0)};
  for (double v : values) {
    // First bound >= v; values above every bound land in the overflow bucket.
    const auto it = std::lower_bound(upper_bounds.begin(), upper_bounds.end(), v);
    h.counts[static_cast<std::size_t>(it - upper_bounds.begin())]++;
  }
  return h;
}

std::vector<double> exponential_bounds(double start, double factor, int n) {
  if (!(start > 0) || !(factor > 1) || n < 1) {
    throw std::invalid_argument("exponential_bounds needs start > 0, factor > 1, n >= 1");
  }
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < n; ++i, v *= factor) b.push_back(v);
  return b;
}

std::vector<double> latency_bounds(const std::vector<double>& values, int n) {
  if (n < 1) throw std::invalid_argument("latency_bounds needs n >= 1");
  if (values.empty()) return exponential_bounds(1.0, 2.0, n);
  const auto [mn_it, mx_it] = std::minmax_element(values.begin(), values.end());
  const double lo = std::max(*mn_it, 1e-6);
  const double hi = std::max(*mx_it, lo * 1.0001);
  if (n == 1) return {hi};
  const double factor = std::pow(hi / lo, 1.0 / (n - 1));
  std::vector<double> b = exponential_bounds(lo, std::max(factor, 1.0001), n);
  b.back() = std::max(b.back(), hi);  // rounding must not push the max into overflow
  return b;
}

}  // namespace shirg::clients
