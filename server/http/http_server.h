#pragma once
// An HTTP/1.1 server (plain or TLS) that hostile clients cannot exhaust:
// * one transport thread runs an epoll loop over every connection: reading, parsing, limits,
//   timeouts and writing never wait on a handler, and handlers never wait on a socket;
// * every byte is bounded before it is kept (HttpLimits); requests are vetted (route, method,
//   body type, the route's check_head, the body budget) before any body byte is read, and a
//   refused request gets its status at once, then the connection is closed;
// * each phase of a connection has a timeout (HttpTimeouts); at most max_connections are
//   open: a new one replaces the oldest idle or still-sending-its-head one, else it gets 429;
// * handlers answer through an Exchange from any thread; heavy ones run on a small pool of
//   handler threads (Route::offload), cheap ones on the transport thread, so cheap routes
//   answer even while every handler thread is busy;
// * pipelined requests are answered in order; a client that half-closes after its request
//   still gets the answer (RFC 9112 9.6); one that goes away is reported to the exchange.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "server/http/exchange.h"
#include "server/http/http_limits.h"
#include "server/http/http_message.h"
#include "server/http/router.h"

namespace shirg::http {

struct HttpServerOptions {
  HttpLimits limits;
  HttpTimeouts timeouts;
  std::size_t max_connections = 256;  // open connections (beyond: replace an idle one or 429)
  // Request bodies held in memory at once, all connections together: a request whose body
  // does not fit (its Content-Length, or max_body_bytes when chunked or content-encoded) is
  // refused with 429 before its body is read.
  uint64_t max_body_buffer_bytes = uint64_t{256} << 20;
  int handler_threads = 2;        // for Route::offload handlers
  std::string tls_cert, tls_key;  // both set: TLS only (PEM files)
};

struct HttpServerStats {
  int64_t open_connections = 0;
  int64_t connections_evicted = 0;  // idle or slow-head connections closed for a new one
  int64_t connections_refused = 0;  // at the cap with none to replace: 429 (TLS: closed)
  int64_t body_bytes_buffered = 0;  // reserved by request bodies now
  std::map<int, int64_t> refusals;  // requests the transport answered itself, by HTTP status
};

class HttpServer {
 public:
  // Renders a refusal of the transport (400, 404, 405, 408, 411, 413, 414, 415, 417, 429, 431,
  // 501, 505) as a response, on the transport thread. `head`: the request head when it was
  // parsed, else nullptr; `route`: the matched route, else nullptr; `peer`: "address:port".
  // Must not block.
  using ErrorRenderer = std::function<HttpResponse(const HttpError& error, const HttpRequest* head,
                                                   const Route* route, const std::string& peer)>;

  HttpServer(HttpServerOptions options, Router router, ErrorRenderer render_error);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (0: the OS chooses) and serves in the background. Returns the bound port.
  // Throws std::runtime_error when the address cannot be bound or the TLS files not loaded.
  int start(const std::string& host, int port);
  // Closes every connection (exchanges not complete are told their client is gone), stops
  // the threads. Handlers still running may post to their exchanges; that is ignored.
  // Idempotent.
  void stop();

  HttpServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shirg::http
