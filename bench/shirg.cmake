# SHIRG selection latency (included from bench/CMakeLists.txt).
shirg_executable(bench_shirg TORCH SOURCES ${CMAKE_CURRENT_LIST_DIR}/shirg_bench.cpp
                 DEPS shirg_select shirg_bench_util)
