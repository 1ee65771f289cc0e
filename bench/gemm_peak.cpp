#include "bench/gemm_peak.h"

#include <ATen/ATen.h>

#include <functional>

#include "engine/gemm/linear_weight.h"

namespace shirg::bench {
namespace {

// GFLOP/s of `op`, an [m,k] x [k,n] product, from its median over `reps` runs.
double gflops_of(int64_t m, int64_t k, int64_t n, int reps, const std::function<void()>& op) {
  return 2.0 * static_cast<double>(m) * k * n / (median_ms(op, reps, 1) * 1e6);
}

}  // namespace

double measure_gemm_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps) {
  const at::Tensor a = at::randn({m, k}).to(dtype), b = at::randn({k, n}).to(dtype);
  return gflops_of(m, k, n, reps, [&] { (void)at::matmul(a, b); });
}

double measure_linear_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n, int reps) {
  const at::Tensor x = at::randn({m, k}).to(dtype), w = at::randn({n, k}).to(dtype);
  return gflops_of(m, k, n, reps, [&] { (void)at::linear(x, w); });
}

double measure_packed_linear_gflops(at::ScalarType dtype, int64_t m, int64_t k, int64_t n,
                                    int reps) {
  const at::Tensor x = at::randn({m, k}).to(dtype);
  const gemm::LinearWeight w =
      gemm::LinearWeight(at::randn({n, k}).to(dtype)).packed(gemm::WeightLayout::kAuto);
  if (!w.is_packed()) return 0;
  return gflops_of(m, k, n, reps, [&] { (void)w.forward(x); });
}

}  // namespace shirg::bench
