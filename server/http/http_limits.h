#pragma once
// Bounds of the HTTP/1.1 transport (server/http). Every byte a client sends is counted against
// one of these before it is buffered; shirg-server sets them from its --http-* flags
// (docs/server.md "HTTP transport limits"), whose defaults are these.
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace shirg::http {

// Per request.
struct HttpLimits {
  std::size_t max_request_line = 8192;  // bytes of "METHOD target HTTP/1.1"; longer: 414
  std::size_t max_header_line = 8192;   // bytes of one header, trailer or chunk-size line: 431
  std::size_t max_headers = 100;        // header + trailer lines; more: 431
  std::size_t max_head_bytes = 32768;   // request line + header lines + trailers; more: 431
  uint64_t max_body_bytes = 1 << 20;    // body on the wire and after content decoding: 413
};

// Per connection phase. A timeout while a request is being read answers 408 and closes.
struct HttpTimeouts {
  // From accept (or from the first byte of a later request on a kept-alive connection) to the
  // end of the request head; includes the TLS handshake.
  std::chrono::milliseconds header{10'000};
  // From the end of the head to the end of the body.
  std::chrono::milliseconds body{120'000};
  // No byte received while a head or body is read, or none accepted by the client while a
  // response waits to be sent.
  std::chrono::milliseconds idle{10'000};
  // Between requests on a kept-alive connection.
  std::chrono::milliseconds keepalive{5'000};
  // After an error response whose request was not read to its end: the client's further bytes
  // are read and discarded this long (so the response is not destroyed by a TCP reset), then
  // the connection is closed.
  std::chrono::milliseconds linger{2'000};
};

}  // namespace shirg::http
