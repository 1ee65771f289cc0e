# bench_vision: per-stage times of the vision path at 672x672 (fp32 and bf16), included from
# bench/CMakeLists.txt. Run: bench_vision [--threads 2] [--layers 2] [--reps 3]
shirg_executable(bench_vision TORCH SOURCES ${CMAKE_CURRENT_LIST_DIR}/vision_bench.cpp
  DEPS shirg_vision shirg_bench_util)
