#pragma once
// Internals of HttpServer (server/http/http_server.h), shared by its three source files:
//   http_server.cpp  the loop, start/stop
//   connections.cpp  accepting, the connection cap, socket and TLS I/O
//   requests.cpp     parsing, vetting, dispatching and answering requests; timeouts
// Everything here runs on the transport thread unless said otherwise. Not an API.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http/exchange.h"
#include "server/http/handler_pool.h"
#include "server/http/http_server.h"
#include "server/http/request_parser.h"
#include "server/http/tls.h"

namespace shirg::http::loop {

using Clock = std::chrono::steady_clock;
inline constexpr Clock::time_point kNever = Clock::time_point::max();
inline constexpr std::size_t kReadChunk = 16 << 10;
// Bytes read ahead (pipelined requests, or a body the route does not take) while a request is
// answered; beyond, reading pauses until the answer is sent.
inline constexpr std::size_t kReadAhead = 64 << 10;
// Connections refused at the cap that are still being sent their 429.
inline constexpr std::size_t kMaxRefusing = 64;
// Reads per connection per wake-up (fairness between connections).
inline constexpr int kReadRounds = 16;
inline constexpr uint64_t kWakeTag = 0;
inline constexpr uint64_t kListenTag = 1;

// The phases of a connection (docs/server.md "HTTP transport limits").
enum class Phase {
  kHandshake,  // TLS handshake (header timeout from accept)
  kWaiting,    // no byte of the next request yet (fresh: header timeout; kept alive: keepalive)
  kHead,       // reading a request head (header timeout, idle timeout)
  kBody,       // reading a body (body timeout, idle timeout)
  kAnswering,  // a request is handled or its answer sent; input is not parsed meanwhile
  kClosing,    // answer sent and sending side shut: the client's bytes are discarded (linger)
};

struct Conn {
  explicit Conn(const HttpLimits& limits) : parser(limits) {}
  uint64_t id = 0;
  int fd = -1;
  std::string peer;
  std::unique_ptr<TlsSession> tls;
  Phase phase = Phase::kWaiting;
  bool counts = true;       // toward max_connections (false: refused at the cap, being sent a 429)
  bool fresh = true;        // no request finished on it yet
  Clock::time_point since;  // start of the phase (which connection to replace first)
  Clock::time_point phase_deadline = kNever;
  Clock::time_point read_deadline = kNever;   // idle: no byte received
  Clock::time_point write_deadline = kNever;  // idle: no byte accepted by the client

  RequestParser parser;
  bool head_parsed = false;
  const Route* route = nullptr;
  std::string param;
  detail::BodyReservation reservation;
  bool body_skipped = false;  // the route takes no body and one was sent: close afterwards

  std::string in;  // read and not yet parsed
  std::string out;
  std::size_t out_off = 0;

  std::shared_ptr<Exchange> exchange;  // the request being answered
  int minor = 1;                       // HTTP/1.minor of that request
  bool head_only = false;              // a HEAD request: no body in the answer
  bool keep_alive = true;              // the connection may serve another request after it
  bool response_started = false;       // bytes of the final response were queued
  bool streaming = false;
  bool response_queued = false;  // the whole final response is in `out`
  bool close_after = false;      // close (gracefully) once it is sent
  bool probed = false;           // a 100 Continue went out after the client's FIN

  bool fin_seen = false;  // the client shut down its sending side (bytes may precede the FIN)
  bool eof = false;       // ... and every byte before the FIN was read
  bool hs_wants_write = false;
  bool read_wants_write = false;  // TLS: a read waits for the socket to be writable
  bool write_wants_read = false;  // TLS: a write waits for the socket to be readable
  uint32_t events = 0;            // the epoll interest now

  Clock::time_point deadline() const {
    return std::min({phase_deadline, read_deadline, write_deadline});
  }
};

}  // namespace shirg::http::loop

namespace shirg::http {

using loop::Clock;
using loop::Conn;
using loop::kNever;
using loop::Phase;

struct HttpServer::Impl final : detail::ExchangeSink {
  Impl(HttpServerOptions o, Router r, ErrorRenderer e)
      : opt(std::move(o)), router(std::move(r)), render(std::move(e)) {}

  HttpServerOptions opt;
  Router router;
  ErrorRenderer render;
  std::unique_ptr<TlsContext> tls;
  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::shared_ptr<detail::Inbox> inbox;
  std::shared_ptr<detail::BodyBudget> budget;
  std::unique_ptr<HandlerPool> pool;
  std::thread thread;
  std::atomic<bool> stopping{false};

  // Transport thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  uint64_t next_id = 2;
  std::size_t counted = 0;
  std::size_t refusing = 0;
  std::vector<uint64_t> kicks;  // connections to read again without waiting for the socket
  Clock::time_point now = Clock::now();
  Clock::time_point accept_paused_until = kNever;

  std::atomic<int64_t> open{0}, evicted{0}, refused{0};
  mutable std::mutex stats_mu;
  std::map<int, int64_t> refusals;

  void run();
  void drain();
  void close_fds();

  Conn* find(uint64_t id) {
    auto it = conns.find(id);
    return it == conns.end() ? nullptr : it->second.get();
  }

  // --- connections ---
  void accept_all();
  void admit(int fd, const sockaddr_storage& addr);
  bool evict_one();
  void refuse_connection(int fd, const std::string& peer);
  void close_conn(Conn& c);
  bool gone(Conn& c) {
    close_conn(c);
    return false;
  }
  void update_interest(Conn& c);
  bool wants_read(const Conn& c) const;

  // --- I/O (each returns false when the connection was closed) ---
  void on_event(Conn& c, uint32_t ev);
  void handshake(Conn& c);
  bool on_readable(Conn& c);
  bool on_eof(Conn& c);
  bool flush(Conn& c);
  IoStatus read_some(Conn& c, char* buf, std::size_t n, std::size_t* got);
  IoStatus write_some(Conn& c, const char* buf, std::size_t n, std::size_t* put);
  void queue_out(Conn& c, std::string_view bytes);

  // --- requests ---
  bool process(Conn& c);
  bool on_head(Conn& c);
  bool dispatch(Conn& c);
  bool refuse(Conn& c, HttpError e, bool keep_alive = false);
  void queue_response(Conn& c, const HttpResponse& r, bool keep_alive);
  bool after_response(Conn& c);
  void resume(Conn& c);
  bool begin_closing(Conn& c);
  void probe(Conn& c);
  void on_timeout(Conn& c);
  int next_timeout_ms() const;

  // --- ExchangeSink (actions posted by exchanges) ---
  Conn* current(Exchange& ex) {
    Conn* c = find(ex.connection());
    return c && c->exchange.get() == &ex ? c : nullptr;
  }
  void finish_action(Conn& c) {
    if (flush(c)) update_interest(c);
  }
  void respond(Exchange& ex, HttpResponse r) override;
  void start_stream(Exchange& ex, HttpResponse head) override;
  void write(Exchange& ex, std::string data) override;
  void finish_stream(Exchange& ex) override;
};

}  // namespace shirg::http
