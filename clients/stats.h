// Latency statistics for the load tester: percentiles, summaries and histograms.
// Pure functions over plain vectors (no gRPC, no clocks) so they are unit-tested exactly.
#pragma once

#include <cstddef>
#include <vector>

namespace shirg::clients {

// The p-th percentile (p in [0, 100]) by linear interpolation between closest ranks
// (numpy's default "linear" method): rank = p/100 * (n-1). Values need not be sorted.
// Throws std::invalid_argument when values is empty or p is outside [0, 100].
double percentile(std::vector<double> values, double p);

// count, mean and the usual percentiles; all zero when values is empty.
struct Summary {
  std::size_t count = 0;
  double mean = 0, min = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};
Summary summarize(const std::vector<double>& values);

// A histogram with fixed, increasing upper bounds: counts[i] counts values v with
// upper_bounds[i-1] < v <= upper_bounds[i]; the last count (index upper_bounds.size()) is the
// overflow bucket (v > last bound). counts.size() == upper_bounds.size() + 1 always.
struct Histogram {
  std::vector<double> upper_bounds;
  std::vector<std::size_t> counts;
  std::size_t total() const;
};
// Throws std::invalid_argument if bounds are empty or not strictly increasing.
Histogram make_histogram(const std::vector<double>& values,
                         const std::vector<double>& upper_bounds);

// n bounds start, start*factor, start*factor^2, ... (factor > 1, start > 0).
std::vector<double> exponential_bounds(double start, double factor, int n);

// Bounds covering [min, max] of the values with about n log-spaced buckets (for latencies).
std::vector<double> latency_bounds(const std::vector<double>& values, int n = 12);

}  // namespace shirg::clients
