# The OpenAI HTTP API under hostile clients (needs a running shirg-server; bench/http_edge.sh).
shirg_executable(bench_http_edge SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_edge_bench.cpp DEPS Threads::Threads ZLIB::ZLIB)
