#pragma once
// The machine's measured GEMM throughput through LibTorch, the yardstick every benchmark reports
// its achieved GFLOP/s against.
#include <c10/core/ScalarType.h>

#include <cstdint>

namespace shirg::bench {

// Median GFLOP/s of an [m,k] x [k,n] matmul in `dtype` over `reps` runs (after one warm-up).
double measure_gemm_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps = 5);

// Median wall time in ms of `fn` over `reps` runs (after `warmup` runs).
template <typename F>
double median_ms(F&& fn, int reps = 5, int warmup = 1);

}  // namespace shirg::bench

#include "bench/gemm_peak_inl.h"
