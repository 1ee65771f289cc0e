# bench_attention: the product's attention (auto and generic kernel sets) beside the
# benchmark-only online-softmax kernels, interleaved in one process, at LLaDA-8B and SigLIP so400m
# widths (included from bench/CMakeLists.txt). Run:
# bench_attention [--threads 2] [--reps 3] [--dtypes auto,fp32] [--prefixes 1350,2438]
#                 [--sections kernel,llada,siglip,step]
# The benchmark-only kernels: the fused CPU kernel (cblas from the system BLAS) and the blocked
# ATen kernel; tests/bench checks them against float64.
shirg_library(shirg_bench_attention TORCH
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/attention/blocked_attention.cpp
          ${CMAKE_CURRENT_LIST_DIR}/attention/fused_cpu_attention.cpp
  DEPS shirg_attention blas)
# The fused passes are written as plain loops for the vectoriser (GCC's -O2 cost model skips many).
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/attention/fused_cpu_attention.cpp
  PROPERTIES COMPILE_OPTIONS -O3)
shirg_executable(bench_attention TORCH SOURCES ${CMAKE_CURRENT_LIST_DIR}/attention/attention_bench.cpp
  DEPS shirg_llada shirg_vision shirg_attention shirg_bench_attention shirg_model shirg_bench_util)
