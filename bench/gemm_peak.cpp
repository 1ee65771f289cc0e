#include "bench/gemm_peak.h"

#include <ATen/ATen.h>

namespace shirg::bench {

double measure_gemm_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps) {
  at::Tensor a = at::randn({m, k}).to(dtype);
  at::Tensor b = at::randn({k, n}).to(dtype);
  at::Tensor c;
  const double ms = median_ms([&] { c = at::matmul(a, b); }, reps, 1);
  return 2.0 * static_cast<double>(m) * k * n / (ms * 1e6);
}

double measure_linear_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps) {
  at::Tensor x = at::randn({m, k}).to(dtype);
  at::Tensor w = at::randn({n, k}).to(dtype);
  at::Tensor y;
  const double ms = median_ms([&] { y = at::linear(x, w); }, reps, 1);
  return 2.0 * static_cast<double>(m) * k * n / (ms * 1e6);
}

}  // namespace shirg::bench
