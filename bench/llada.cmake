# bench_llada: LLaDA prefix cache on/off, bf16 vs fp32, cache bytes, throughput vs GEMM peak
# (included from bench/CMakeLists.txt). Run: bench_llada [--threads 2] [--reps 3]
# [--real-layers 2] [--skip-real] [--skip-small] [--prefix 1290]
shirg_executable(bench_llada TORCH SOURCES ${CMAKE_CURRENT_LIST_DIR}/llada_bench.cpp
  DEPS shirg_llada shirg_sampler shirg_bench_util)
