#pragma once
// The machine's measured GEMM throughput through LibTorch, the yardstick every benchmark reports
// its achieved GFLOP/s against.
#include <c10/core/ScalarType.h>

#include <cstdint>

namespace shirg::bench {

// Median GFLOP/s of an [m,k] x [k,n] matmul in `dtype` over `reps` runs (after one warm-up).
double measure_gemm_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps = 5);
// The same for the engine's call: at::linear of [m,k] rows with an [n,k] weight (nn.Linear's
// layout, the operand transposed), which LibTorch may run by another kernel than the [k,n] one.
double measure_linear_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps = 5);
// The same through a weight packed once for oneDNN, as the loader holds the LLaDA matrices
// (engine/gemm, --gemm auto); 0 where this CPU and dtype get no blocked layout (the engine then
// keeps at::linear).
double measure_packed_linear_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n,
                                    int reps = 5);

// Median wall time in ms of `fn` over `reps` runs (after `warmup` runs).
template <typename F>
double median_ms(F&& fn, int reps = 5, int warmup = 1);

}  // namespace shirg::bench

#include "bench/gemm_peak_inl.h"
