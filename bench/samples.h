#pragma once
// Repeated wall-clock measurements and their spread. Benchmarks report the median with the
// min-max range, and re-measure a quantity whose runs disagree instead of reporting noise.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace shirg::bench {

struct Samples {
  std::vector<double> ms;  // one entry per timed run, milliseconds
  double median() const { return sorted_at(ms.size() / 2); }
  double lo() const { return ms.empty() ? 0 : *std::min_element(ms.begin(), ms.end()); }
  double hi() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
  // (max - min) / median: 0 for one run.
  double spread() const { return median() > 0 ? (hi() - lo()) / median() : 0; }
  // The central range: the runs left after dropping the n/4 fastest and the n/4 slowest (n 5:
  // the 2nd to 4th; n <= 3: min to max). One run slowed by another process's time slice moves it
  // far less than the min-max range.
  double central_lo() const { return sorted_at(ms.size() / 4); }
  double central_hi() const { return sorted_at(ms.size() - 1 - ms.size() / 4); }
  double central_spread() const {
    return median() > 0 ? (central_hi() - central_lo()) / median() : 0;
  }

 private:
  // The i-th smallest run; 0 when there are none (then i is never read).
  double sorted_at(size_t i) const {
    if (ms.empty()) return 0;
    auto v = ms;
    std::sort(v.begin(), v.end());
    return v[i];
  }
};

inline double time_ms(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// `reps` timed runs of fn (after `warmup` untimed ones).
inline Samples sample(const std::function<void()>& fn, int reps, int warmup = 0) {
  for (int i = 0; i < warmup; ++i) fn();
  Samples s;
  for (int i = 0; i < std::max(1, reps); ++i) s.ms.push_back(time_ms(fn));
  return s;
}

}  // namespace shirg::bench
