# bench_attention: the former attention paths vs the blocked online-softmax kernel, interleaved in
# one process, at LLaDA-8B and SigLIP so400m widths (included from bench/CMakeLists.txt). Run:
# bench_attention [--threads 2] [--reps 3] [--dtypes auto,fp32] [--prefixes 1350,2438]
#                 [--sections kernel,llada,siglip]
shirg_executable(bench_attention TORCH SOURCES ${CMAKE_CURRENT_LIST_DIR}/attention_bench.cpp
  DEPS shirg_llada shirg_vision shirg_attention shirg_model shirg_bench_util)
