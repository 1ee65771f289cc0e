// bench_gemm: this machine's fp32 and bf16 GEMM GFLOP/s through LibTorch (the peak other
// benchmarks report their share of), at the shapes the server runs.
//   bench_gemm [--threads N]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <string>
#include <thread>

#include "bench/cpu_report.h"
#include "bench/gemm_peak.h"
#include "engine/platform/process_setup.h"

int main(int argc, char** argv) {
  shirg::prepare_process(argv);  // first: before any thread starts
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--threads") threads = std::stoi(argv[i + 1]);
  shirg::bench::setup_and_report_cpu(threads);
  std::printf("LibTorch GEMM throughput, %d threads (%s)\n\n", threads,
              at::get_parallel_info().c_str());
  struct Shape {
    const char* what;
    int64_t m, k, n;
  };
  const Shape shapes[] = {
      {"square 2048", 2048, 2048, 2048},
      {"SigLIP qkv, 2304 tok", 2304, 1152, 3456},
      {"SigLIP fc1, 2304 tok", 2304, 1152, 4304},
      {"LLaDA prefill wqkv, P=1290", 1290, 4096, 12288},
      {"LLaDA step wqkv, 32 tok", 32, 4096, 12288},
      {"LLaDA step ff, 32 tok", 32, 4096, 24576},
  };
  std::printf("%-30s %8s %8s %8s %12s %12s %8s\n", "shape", "M", "K", "N", "fp32 GF/s", "bf16 GF/s",
              "bf16/fp32");
  for (const auto& s : shapes) {
    const double f = shirg::bench::measure_gemm_gflops(at::kFloat, s.m, s.k, s.n);
    const double b = shirg::bench::measure_gemm_gflops(at::kBFloat16, s.m, s.k, s.n);
    std::printf("%-30s %8lld %8lld %8lld %12.1f %12.1f %8.2f\n", s.what,
                static_cast<long long>(s.m), static_cast<long long>(s.k),
                static_cast<long long>(s.n), f, b, b / f);
  }
  // A denoising step multiplies every weight matrix by the answer rows of one request (M = 32).
  // Rows of concurrent requests batched into one GEMM share the weight pass: how much a step-level
  // batch of B requests gains per request, in fp32 and bf16, through at::linear with the weight in
  // nn.Linear's [N, K] layout as the engine calls it (the wqkv shape).
  std::printf(
      "\nStep GEMM vs answer rows in one batch (at::linear, K 4096, weight [12288, 4096])\n");
  std::printf("%-10s %8s %12s %12s %16s %16s\n", "requests", "M", "fp32 GF/s", "bf16 GF/s",
              "fp32 ms/request", "bf16 ms/request");
  for (int64_t b : {1, 2, 3, 4, 8}) {
    const int64_t m = 32 * b;
    const double flops = 2.0 * static_cast<double>(m) * 4096 * 12288;
    const double f = shirg::bench::measure_linear_gflops(at::kFloat, m, 4096, 12288, 9);
    const double h = shirg::bench::measure_linear_gflops(at::kBFloat16, m, 4096, 12288, 9);
    const double per_request = 1e3 / (1e9 * static_cast<double>(b));  // ms per request per GFLOP/s
    std::printf("%-10lld %8lld %12.1f %12.1f %16.1f %16.1f\n", static_cast<long long>(b),
                static_cast<long long>(m), f, h, flops / f * per_request, flops / h * per_request);
  }
  std::printf(
      "\nSmall-M rows (answer-token steps) are limited by the GEMM kernel and memory, not the "
      "large-M peak.\n");
  return 0;
}
