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
  // nn.Linear's [N, K] layout ("aten", --gemm aten), and through the
  // weight packed once for oneDNN as the loader holds it ("packed", --gemm auto; "-" where
  // this CPU gets no blocked layout). The wqkv shape.
  std::printf(
      "\nStep GEMM vs answer rows in one batch (K 4096, weight [12288, 4096]), GF/s and ms "
      "per request\n");
  std::printf("%-9s %6s %11s %11s %11s %11s %10s %10s %10s %10s\n", "requests", "M", "fp32 aten",
              "fp32 packed", "bf16 aten", "bf16 packed", "fp32 ms", "fp32 pk ms", "bf16 ms",
              "bf16 pk ms");
  auto ms_or_dash = [](double flops, double gf, double b) {
    char buf[32];
    if (gf <= 0) return std::string("-");
    std::snprintf(buf, sizeof buf, "%.1f", flops / (gf * 1e9) * 1e3 / b);
    return std::string(buf);
  };
  for (int64_t b : {1, 2, 3, 4, 8}) {
    const int64_t m = 32 * b;
    const double flops = 2.0 * static_cast<double>(m) * 4096 * 12288;
    const double f = shirg::bench::measure_linear_gflops(at::kFloat, m, 4096, 12288, 9);
    const double fp = shirg::bench::measure_packed_linear_gflops(at::kFloat, m, 4096, 12288, 9);
    const double h = shirg::bench::measure_linear_gflops(at::kBFloat16, m, 4096, 12288, 9);
    const double hp = shirg::bench::measure_packed_linear_gflops(at::kBFloat16, m, 4096, 12288, 9);
    const double bd = static_cast<double>(b);
    std::printf("%-9lld %6lld %11.1f %11.1f %11.1f %11.1f %10s %10s %10s %10s\n",
                static_cast<long long>(b), static_cast<long long>(m), f, fp, h, hp,
                ms_or_dash(flops, f, bd).c_str(), ms_or_dash(flops, fp, bd).c_str(),
                ms_or_dash(flops, h, bd).c_str(), ms_or_dash(flops, hp, bd).c_str());
  }
  // Every matrix of a step layer and the LM head at M = 32, aten vs packed (ms).
  struct Matrix {
    const char* what;
    int64_t n, k;
  };
  const Matrix step_matrices[] = {{"wqkv", 12288, 4096},
                                  {"attn_out", 4096, 4096},
                                  {"ff gate|up", 24576, 4096},
                                  {"ff_out", 4096, 12288},
                                  {"LM head", 126464, 4096}};
  std::printf("\nOne step's matrices at M = 32 (ms; LLaDA-8B widths)\n");
  std::printf("%-12s %8s %8s %11s %11s %11s %11s\n", "matrix", "N", "K", "fp32 aten", "fp32 packed",
              "bf16 aten", "bf16 packed");
  for (const auto& mt : step_matrices) {
    const double flops = 2.0 * 32 * static_cast<double>(mt.n) * static_cast<double>(mt.k);
    auto cell = [&](double gf) { return ms_or_dash(flops, gf, 1); };
    std::printf(
        "%-12s %8lld %8lld %11s %11s %11s %11s\n", mt.what, static_cast<long long>(mt.n),
        static_cast<long long>(mt.k),
        cell(shirg::bench::measure_linear_gflops(at::kFloat, 32, mt.k, mt.n)).c_str(),
        cell(shirg::bench::measure_packed_linear_gflops(at::kFloat, 32, mt.k, mt.n)).c_str(),
        cell(shirg::bench::measure_linear_gflops(at::kBFloat16, 32, mt.k, mt.n)).c_str(),
        cell(shirg::bench::measure_packed_linear_gflops(at::kBFloat16, 32, mt.k, mt.n)).c_str());
  }
  std::printf(
      "\nSmall-M rows (answer-token steps) are limited by the GEMM kernel and memory, not the "
      "large-M peak.\n");
  return 0;
}
