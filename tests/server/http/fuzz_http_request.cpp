// libFuzzer target for the HTTP request parser (server/http/request_parser.h): arbitrary bytes,
// split at a point the input chooses (so both one-shot and incremental paths run), with small
// limits so every limit and the gzip/deflate decoders are reached. Checks the contracts: the
// parser never uses more than it was given, stops in a defined state, keeps a body within the
// limit, and an error always carries a 4xx/5xx status and a message.
// Build: cmake -DSHIRG_BUILD_FUZZERS=ON -DCMAKE_CXX_COMPILER=clang++ ; run: ./fuzz_http_request
#include <cstddef>
#include <cstdint>

#include "server/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  shirg::http::HttpLimits limits;
  limits.max_request_line = 512;
  limits.max_header_line = 256;
  limits.max_headers = 16;
  limits.max_head_bytes = 2048;
  limits.max_body_bytes = 4096;
  using State = shirg::http::RequestParser::State;
  shirg::http::RequestParser p(limits);
  const char* in = reinterpret_cast<const char*>(data);
  // The first byte picks the size of the pieces the rest is fed in (1..256 bytes).
  const std::size_t piece = size > 0 ? static_cast<std::size_t>(data[0]) + 1 : 1;
  std::size_t off = size > 0 ? 1 : 0;
  int requests = 0;
  while (off < size && requests < 8) {
    const std::size_t n = size - off < piece ? size - off : piece;
    const std::size_t used = p.feed(in + off, n);
    if (used > n) __builtin_trap();
    off += used;
    switch (p.state()) {
      case State::kHeadDone:
        p.accept_body();
        break;
      case State::kDone:
        if (p.request().body.size() > limits.max_body_bytes) __builtin_trap();
        p.reset();
        ++requests;
        break;
      case State::kError:
        if (p.error().status < 400 || p.error().status > 599 || p.error().message.empty())
          __builtin_trap();
        return 0;
      case State::kHead:
      case State::kBody:
        if (used == 0) __builtin_trap();  // no progress on input that was there
        break;
    }
  }
  return 0;
}
