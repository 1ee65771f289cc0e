# bench_stages: a LaViDa request's stages at LaViDa-8B widths in the `auto` dtype and fp32, with
# spread and re-measurement, as JSON for bench/compare_lavida.py (included from
# bench/CMakeLists.txt). Run: bench_stages [--dtypes auto,fp32] [--prefixes 1290,2380] [--json F]
shirg_executable(bench_stages TORCH SOURCES ${CMAKE_CURRENT_LIST_DIR}/stages_bench.cpp
  DEPS shirg_llada shirg_vision shirg_model shirg_bench_util)
