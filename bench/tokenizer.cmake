# Tokenizer encode throughput vs Hugging Face tokenizers (node, tools/npm) in the same run.
shirg_executable(bench_tokenizer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_bench.cpp
  DEPS shirg_tokenizer)
target_compile_definitions(bench_tokenizer PRIVATE
  SHIRG_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SHIRG_BINARY_DIR="${PROJECT_BINARY_DIR}"
  SHIRG_PYTHON="${SHIRG_SYSTEM_PYTHON}")
