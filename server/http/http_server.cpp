#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http/handler_pool.h"
#include "server/http/request_parser.h"
#include "server/http/response_format.h"
#include "server/http/tls.h"

namespace shirg::http {
namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();
constexpr std::size_t kReadChunk = 16 << 10;
// Bytes read ahead (pipelined requests, or a body the route does not take) while a request is
// answered; beyond, reading pauses until the answer is sent.
constexpr std::size_t kReadAhead = 64 << 10;
constexpr std::size_t kMaxRefusing = 64;  // connections refused at the cap, being sent their 429
constexpr int kReadRounds = 16;           // reads per connection per wake-up (fairness)
constexpr uint64_t kWakeTag = 0;
constexpr uint64_t kListenTag = 1;

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

std::string peer_name(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

// "application/json; charset=utf-8" is of media type "application/json".
bool media_type_is(const std::string& content_type, const std::string& type) {
  std::string_view t(content_type);
  t = t.substr(0, t.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return iequals(t, type);
}

std::string ms_text(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace

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

// ---------------------------------------------------------------- the loop

void HttpServer::Impl::run() {
  std::vector<epoll_event> events(256);
  while (!stopping.load()) {
    const int n =
        ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), next_timeout_ms());
    if (n < 0 && errno != EINTR) {
      spdlog::error("HTTP transport: epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    if (stopping.load()) break;
    now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t v = 0;
        while (::read(wake_fd, &v, sizeof v) > 0) {
        }
      } else if (tag == kListenTag) {
        accept_all();
      } else if (Conn* c = find(tag)) {
        on_event(*c, events[i].events);
      }
    }
    now = Clock::now();
    for (auto& action : inbox->take()) action(*this);
    std::vector<uint64_t> again;
    again.swap(kicks);
    for (uint64_t id : again)
      if (Conn* c = find(id)) resume(*c);
    std::vector<uint64_t> due;
    for (const auto& [id, c] : conns)
      if (c->deadline() <= now) due.push_back(id);
    for (uint64_t id : due)
      if (Conn* c = find(id)) on_timeout(*c);
    if (accept_paused_until <= now) {
      accept_paused_until = kNever;
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.u64 = kListenTag;
      ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &e);
    }
  }
  drain();
}

// At stop: no new connections; answers already handed to the transport are sent for up to
// kDrainTime, then every connection is closed (exchanges still open are told the client is
// gone).
void HttpServer::Impl::drain() {
  constexpr auto kDrainTime = std::chrono::seconds(1);
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
  const auto until = Clock::now() + kDrainTime;
  std::vector<epoll_event> events(256);
  for (;;) {
    now = Clock::now();
    for (auto& action : inbox->take()) action(*this);
    std::vector<uint64_t> idle;
    for (const auto& [id, c] : conns)
      if (c->out_off >= c->out.size()) idle.push_back(id);
    for (uint64_t id : idle)
      if (Conn* c = find(id)) close_conn(*c);
    if (conns.empty() || now >= until) break;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(std::min<int64_t>(left, 50)));
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      Conn* c = tag > kListenTag ? find(tag) : nullptr;
      if (!c) continue;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        close_conn(*c);
      } else if (events[i].events & EPOLLOUT) {
        flush(*c);
      }
    }
    if (n < 0 && errno != EINTR) break;
  }
  std::vector<uint64_t> all;
  for (const auto& [id, c] : conns) all.push_back(id);
  for (uint64_t id : all)
    if (Conn* c = find(id)) close_conn(*c);
}

int HttpServer::Impl::next_timeout_ms() const {
  if (!kicks.empty()) return 0;
  Clock::time_point soonest = accept_paused_until;
  for (const auto& [id, c] : conns) soonest = std::min(soonest, c->deadline());
  if (soonest == kNever) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(soonest - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
}

// ---------------------------------------------------------------- connections

void HttpServer::Impl::accept_all() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      admit(fd, addr);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: stop accepting for a moment instead of spinning on the listener.
      spdlog::warn("HTTP transport: cannot accept a connection: {} (retrying in 100 ms)",
                   std::strerror(errno));
      ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
      accept_paused_until = now + std::chrono::milliseconds(100);
    }
    return;
  }
}

void HttpServer::Impl::admit(int fd, const sockaddr_storage& addr) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (counted >= opt.max_connections && !evict_one()) return refuse_connection(fd, peer_name(addr));
  auto c = std::make_unique<Conn>(opt.limits);
  c->id = next_id++;
  c->fd = fd;
  c->peer = peer_name(addr);
  c->since = now;
  c->phase_deadline = now + opt.timeouts.header;
  if (tls) {
    try {
      c->tls = std::make_unique<TlsSession>(*tls, fd);
    } catch (const std::exception& e) {
      spdlog::warn("HTTP transport: {}", e.what());
      ::close(fd);
      return;
    }
    c->phase = Phase::kHandshake;
  }
  epoll_event e{};
  e.events = EPOLLIN | EPOLLRDHUP;
  e.data.u64 = c->id;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &e) != 0) {
    ::close(fd);
    return;
  }
  c->events = e.events;
  ++counted;
  open.store(static_cast<int64_t>(counted));
  conns.emplace(c->id, std::move(c));
}

// Makes room for a new connection by closing the one doing least: closing, then idle between
// requests, then in its TLS handshake, then still sending its head (oldest first). Connections
// with a body on the way or a request being answered are never replaced.
bool HttpServer::Impl::evict_one() {
  auto rank = [](Phase p) {
    switch (p) {
      case Phase::kClosing:
        return 0;
      case Phase::kWaiting:
        return 1;
      case Phase::kHandshake:
        return 2;
      case Phase::kHead:
        return 3;
      default:
        return -1;
    }
  };
  Conn* victim = nullptr;
  for (const auto& [id, c] : conns) {
    const int r = rank(c->phase);
    if (!c->counts || r < 0) continue;
    const int v = victim ? rank(victim->phase) : 99;
    if (r < v ||
        (r == v && (c->since < victim->since || (c->since == victim->since && c->id < victim->id))))
      victim = c.get();
  }
  if (!victim) return false;
  spdlog::debug("HTTP transport: connection limit {} reached: closing {} (idle or slow)",
                opt.max_connections, victim->peer);
  close_conn(*victim);
  evicted.fetch_add(1);
  return true;
}

void HttpServer::Impl::refuse_connection(int fd, const std::string& peer) {
  refused.fetch_add(1);
  if (tls || refusing >= kMaxRefusing) {  // no 429 without a handshake: just closed
    ::close(fd);
    return;
  }
  HttpError e{429,
              "too_many_connections",
              "too many open connections (the limit is " + std::to_string(opt.max_connections) +
                  "); retry shortly",
              {{"Retry-After", "1"}}};
  HttpResponse r = render(e, nullptr, nullptr, peer);
  for (const auto& [k, v] : e.headers) r.set_header(k, v);
  const std::string bytes = format_head(r, 1, false, r.body.size()) + r.body;
  [[maybe_unused]] const ssize_t n =
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  auto c = std::make_unique<Conn>(opt.limits);
  c->id = next_id++;
  c->fd = fd;
  c->counts = false;
  c->phase = Phase::kClosing;
  c->since = now;
  c->phase_deadline = now + std::min(opt.timeouts.linger, std::chrono::milliseconds(1000));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = c->id;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    return;
  }
  c->events = ev.events;
  ++refusing;
  conns.emplace(c->id, std::move(c));
}

void HttpServer::Impl::close_conn(Conn& c) {
  if (auto ex = std::move(c.exchange)) ex->notify_gone();
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  if (c.counts)
    --counted;
  else
    --refusing;
  open.store(static_cast<int64_t>(counted));
  conns.erase(c.id);  // destroys c
}

bool HttpServer::Impl::wants_read(const Conn& c) const {
  if (c.eof) return false;
  switch (c.phase) {
    case Phase::kWaiting:
    case Phase::kHead:
    case Phase::kBody:
    case Phase::kClosing:
      return true;
    case Phase::kAnswering:
      return c.in.size() < kReadAhead;
    case Phase::kHandshake:
      return false;
  }
  return false;
}

void HttpServer::Impl::update_interest(Conn& c) {
  uint32_t want = 0;
  if (c.phase == Phase::kHandshake) {
    want = c.hs_wants_write ? EPOLLOUT : EPOLLIN;
  } else {
    if (wants_read(c) || c.write_wants_read) want |= EPOLLIN;
    if (!c.fin_seen) want |= EPOLLRDHUP;
    if (c.out_off < c.out.size() || c.read_wants_write) want |= EPOLLOUT;
  }
  if (want == c.events) return;
  epoll_event e{};
  e.events = want;
  e.data.u64 = c.id;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &e);
  c.events = want;
}

// ---------------------------------------------------------------- I/O

IoStatus HttpServer::Impl::read_some(Conn& c, char* buf, std::size_t n, std::size_t* got) {
  if (c.tls) return c.tls->read(buf, n, got);
  for (;;) {
    const ssize_t r = ::recv(c.fd, buf, n, 0);
    if (r > 0) {
      *got = static_cast<std::size_t>(r);
      return IoStatus::kOk;
    }
    if (r == 0) return IoStatus::kEof;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? IoStatus::kWantRead : IoStatus::kError;
  }
}

IoStatus HttpServer::Impl::write_some(Conn& c, const char* buf, std::size_t n, std::size_t* put) {
  if (c.tls) return c.tls->write(buf, n, put);
  for (;;) {
    const ssize_t r = ::send(c.fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) {
      *put = static_cast<std::size_t>(r);
      return IoStatus::kOk;
    }
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? IoStatus::kWantWrite : IoStatus::kError;
  }
}

void HttpServer::Impl::on_event(Conn& c, uint32_t ev) {
  if (ev & EPOLLERR) {  // reset: the client is gone whatever it was doing
    close_conn(c);
    return;
  }
  if (c.phase == Phase::kHandshake) return handshake(c);
  if ((ev & EPOLLRDHUP) && !c.fin_seen) {
    // The client shut down its sending side. Bytes before the FIN are still read; a request
    // being answered is probed (see probe()).
    c.fin_seen = true;
    if (c.phase == Phase::kAnswering) probe(c);
  }
  if ((ev & EPOLLHUP) && !(ev & EPOLLIN)) {  // both directions down and nothing left to read
    close_conn(c);
    return;
  }
  if ((ev & EPOLLIN) && c.write_wants_read) {
    c.write_wants_read = false;
    if (!flush(c)) return;
  }
  if ((ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && !on_readable(c)) return;
  if (ev & EPOLLOUT) {
    if (!flush(c)) return;
    if (c.read_wants_write) {
      c.read_wants_write = false;
      if (!on_readable(c)) return;
    }
  }
  update_interest(c);
}

void HttpServer::Impl::handshake(Conn& c) {
  switch (c.tls->handshake()) {
    case IoStatus::kOk:
      c.phase = Phase::kWaiting;
      c.hs_wants_write = false;
      kicks.push_back(c.id);  // the first request may be buffered in the TLS layer already
      break;
    case IoStatus::kWantRead:
      c.hs_wants_write = false;
      break;
    case IoStatus::kWantWrite:
      c.hs_wants_write = true;
      break;
    default:
      close_conn(c);
      return;
  }
  update_interest(c);
}

bool HttpServer::Impl::on_readable(Conn& c) {
  char buf[kReadChunk];
  for (int round = 0; round < kReadRounds; ++round) {
    if (!wants_read(c)) return true;
    std::size_t got = 0;
    switch (read_some(c, buf, sizeof buf, &got)) {
      case IoStatus::kOk:
        if (c.phase == Phase::kClosing) continue;  // discarded
        if (c.phase == Phase::kHead || c.phase == Phase::kBody)
          c.read_deadline = now + opt.timeouts.idle;
        c.in.append(buf, got);
        if (!process(c)) return false;
        continue;
      case IoStatus::kWantRead:
        return true;
      case IoStatus::kWantWrite:
        c.read_wants_write = true;
        return true;
      case IoStatus::kEof:
        return on_eof(c);
      case IoStatus::kError:
        return gone(c);
    }
  }
  kicks.push_back(c.id);  // more may be waiting (TLS holds decrypted bytes the socket hides)
  return true;
}

bool HttpServer::Impl::on_eof(Conn& c) {
  c.eof = true;
  c.fin_seen = true;
  if (c.phase == Phase::kAnswering) {
    probe(c);
    return true;
  }
  // Between requests, or in the middle of one that can no longer complete, or closing.
  return gone(c);
}

// A client whose FIN arrived while its request is answered has either half-closed (it waits for
// the answer: RFC 9112 9.6 lets it) or closed its socket (it is gone: the work should stop). TCP
// does not tell them apart, but a closed socket answers data with a reset: an interim
// "100 Continue" (which every HTTP/1.1 client must accept, RFC 9110 15.2) is sent, and a reset
// in return reports the client gone. HTTP/1.0 clients cannot be probed (no 1xx for them): their
// request runs to its end.
void HttpServer::Impl::probe(Conn& c) {
  if (c.probed || !c.exchange || c.response_started || c.minor < 1) return;
  c.probed = true;
  queue_out(c, kContinue);
  if (flush(c)) update_interest(c);
}

void HttpServer::Impl::queue_out(Conn& c, std::string_view bytes) {
  if (bytes.empty()) return;
  if (c.out_off == c.out.size()) c.write_deadline = now + opt.timeouts.idle;
  c.out.append(bytes);
}

bool HttpServer::Impl::flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    std::size_t put = 0;
    switch (write_some(c, c.out.data() + c.out_off, c.out.size() - c.out_off, &put)) {
      case IoStatus::kOk:
        c.out_off += put;
        c.write_deadline = now + opt.timeouts.idle;
        continue;
      case IoStatus::kWantWrite:
        if (c.out_off > (1u << 20)) {
          c.out.erase(0, c.out_off);
          c.out_off = 0;
        }
        return true;
      case IoStatus::kWantRead:
        c.write_wants_read = true;
        return true;
      default:
        return gone(c);
    }
  }
  c.out.clear();
  c.out_off = 0;
  c.write_deadline = kNever;
  if (c.response_queued) return after_response(c);
  return true;
}

// ---------------------------------------------------------------- requests

bool HttpServer::Impl::process(Conn& c) {
  for (;;) {
    if (c.phase != Phase::kWaiting && c.phase != Phase::kHead && c.phase != Phase::kBody)
      return true;
    switch (c.parser.state()) {
      case RequestParser::State::kHeadDone:
        if (!on_head(c)) return false;
        continue;
      case RequestParser::State::kDone:
        if (!dispatch(c)) return false;
        continue;
      case RequestParser::State::kError:
        return refuse(c, c.parser.error());
      case RequestParser::State::kHead:
      case RequestParser::State::kBody:
        break;
    }
    if (c.in.empty()) return true;
    const std::size_t used = c.parser.feed(c.in.data(), c.in.size());
    c.in.erase(0, used);
    if (c.phase == Phase::kWaiting && c.parser.in_progress()) {
      c.phase = Phase::kHead;
      c.since = now;
      if (!c.fresh) c.phase_deadline = now + opt.timeouts.header;
      c.read_deadline = now + opt.timeouts.idle;
    }
  }
}

bool HttpServer::Impl::on_head(Conn& c) {
  HttpRequest& head = c.parser.request();
  head.peer = c.peer;
  c.head_parsed = true;
  c.minor = head.minor_version;
  c.head_only = head.method == "HEAD";
  Router::Match m = router.match(head.method, head.path);
  const bool bodiless = !c.parser.has_body();
  if (!m.route) {
    const bool keep = bodiless && c.parser.keep_alive();
    if (!is_standard_method(head.method))
      return refuse(
          c, {501, "not_implemented", "method " + head.method + " is not implemented", {}}, keep);
    if (!m.allow.empty())
      return refuse(c,
                    {405,
                     "method_not_allowed",
                     "method " + head.method + " is not allowed on " + head.path +
                         " (allowed: " + m.allow + ")",
                     {{"Allow", m.allow}}},
                    keep);
    return refuse(c, {404, "not_found", "no route " + head.method + " " + head.path, {}}, keep);
  }
  c.route = m.route;
  c.param = std::move(m.param);
  const Route& r = *m.route;
  if (!r.body_type.empty()) {
    if (!c.parser.has_framing())
      return refuse(
          c, {411,
              "length_required",
              head.method + " " + head.path + " needs a body sent with Content-Length (or chunked)",
              {}});
    const std::string* ct = head.header("Content-Type");
    if (!ct || !media_type_is(*ct, r.body_type))
      return refuse(c, {415,
                        "unsupported_media_type",
                        "the body must be sent as Content-Type: " + r.body_type +
                            (ct ? ", got '" + ct->substr(0, 64) + "'" : " (none was given)"),
                        {}});
  }
  if (r.check_head) {
    std::optional<HttpResponse> refusal;
    try {
      refusal = r.check_head(head);
    } catch (const std::exception& e) {
      spdlog::error("HTTP transport: check of {} {} failed: {}", head.method, head.path, e.what());
      refusal = HttpResponse{500, {}, "internal error\n", "text/plain; charset=utf-8"};
    }
    if (refusal) {
      queue_response(c, *refusal, bodiless && c.parser.keep_alive());
      return flush(c);
    }
  }
  if (bodiless) {
    c.parser.accept_body();  // kDone
    return true;
  }
  if (r.body_type.empty()) {  // a body the route does not take: never read
    c.body_skipped = true;
    return dispatch(c);
  }
  const uint64_t want = (c.parser.chunked() || c.parser.content_encoded())
                            ? opt.limits.max_body_bytes
                            : *c.parser.content_length();
  if (!budget->try_reserve(want))
    return refuse(c, {429,
                      "too_many_requests",
                      "the server holds too many request bodies at once (" +
                          std::to_string(budget->limit() >> 20) + " MiB); retry shortly",
                      {{"Retry-After", "1"}}});
  c.reservation = detail::BodyReservation(budget, want);
  if (c.parser.expects_continue()) queue_out(c, kContinue);
  c.parser.accept_body();
  c.phase = Phase::kBody;
  c.since = now;
  c.phase_deadline = now + opt.timeouts.body;
  c.read_deadline = now + opt.timeouts.idle;
  return flush(c);
}

bool HttpServer::Impl::dispatch(Conn& c) {
  HttpRequest req = std::move(c.parser.request());
  req.peer = c.peer;
  c.keep_alive = c.parser.keep_alive() && !c.body_skipped;
  c.parser.reset();
  auto ex = std::make_shared<Exchange>(inbox, c.id, std::move(req), std::move(c.param),
                                       std::move(c.reservation));
  c.exchange = ex;
  c.phase = Phase::kAnswering;
  c.phase_deadline = kNever;
  c.read_deadline = kNever;
  const Route* route = c.route;
  auto run = [route, ex] {
    try {
      route->handle(ex);
    } catch (const std::exception& e) {
      spdlog::error("HTTP handler of {} {} failed: {}", ex->request().method, ex->request().path,
                    e.what());
      ex->respond(HttpResponse{500, {}, "internal error\n", "text/plain; charset=utf-8"});
    }
  };
  if (route->offload)
    pool->post(std::move(run));
  else
    run();
  if (c.fin_seen) probe(c);
  return conns.count(ex->connection()) > 0;
}

bool HttpServer::Impl::refuse(Conn& c, HttpError e, bool keep_alive) {
  {
    std::lock_guard<std::mutex> lock(stats_mu);
    ++refusals[e.status];
  }
  // What is known of the request: its line (and headers so far) when the error came later,
  // and its route (for the renderer's metrics) even when the head itself was refused.
  const HttpRequest* head =
      c.parser.request_line_done() || c.head_parsed ? &c.parser.request() : nullptr;
  const Route* route = c.route;
  if (head) {
    c.minor = head->minor_version;
    c.head_only = head->method == "HEAD";
    if (!route) route = router.match(head->method, head->path).route;
  } else {
    c.minor = 1;
    c.head_only = false;
  }
  HttpResponse r;
  try {
    r = render(e, head, route, c.peer);
  } catch (const std::exception& ex) {
    r = HttpResponse{e.status, {}, e.message + "\n", "text/plain; charset=utf-8"};
  }
  for (const auto& [k, v] : e.headers) r.set_header(k, v);
  queue_response(c, r, keep_alive);
  return flush(c);
}

void HttpServer::Impl::queue_response(Conn& c, const HttpResponse& r, bool keep_alive) {
  const bool keep = keep_alive && !stopping.load();
  queue_out(c, format_head(r, c.minor, keep, r.body.size()));
  if (!c.head_only) queue_out(c, r.body);
  c.exchange.reset();  // complete: no longer told about the client going away
  c.response_started = true;
  c.response_queued = true;
  c.close_after = !keep;
  c.phase = Phase::kAnswering;
  c.phase_deadline = kNever;
  c.read_deadline = kNever;
}

bool HttpServer::Impl::after_response(Conn& c) {
  c.response_queued = false;
  c.response_started = false;
  c.streaming = false;
  c.probed = false;
  c.route = nullptr;
  c.param.clear();
  c.head_parsed = false;
  c.reservation.reset();
  if (c.close_after || c.body_skipped) return begin_closing(c);
  c.parser.reset();
  c.fresh = false;
  c.phase = Phase::kWaiting;
  c.since = now;
  c.phase_deadline = now + opt.timeouts.keepalive;
  c.read_deadline = kNever;
  kicks.push_back(c.id);  // resume(): requests read meanwhile (pipelined), then the socket
  return true;
}

void HttpServer::Impl::resume(Conn& c) {
  if (!process(c)) return;
  if (c.eof && (c.phase == Phase::kWaiting || c.phase == Phase::kHead || c.phase == Phase::kBody)) {
    close_conn(c);  // the client sent its last request: nothing more can come
    return;
  }
  if (on_readable(c)) update_interest(c);
}

// Graceful close: the answer is sent; shut our sending side and read (discarding) until the
// client closes or the linger time passes, so unread request bytes do not make the kernel reset
// the connection before the client has read the answer.
bool HttpServer::Impl::begin_closing(Conn& c) {
  if (c.eof) return gone(c);
  if (c.tls) c.tls->shutdown();
  ::shutdown(c.fd, SHUT_WR);
  c.phase = Phase::kClosing;
  c.since = now;
  c.phase_deadline = now + opt.timeouts.linger;
  c.read_deadline = kNever;
  c.in.clear();
  kicks.push_back(c.id);
  return true;
}

void HttpServer::Impl::on_timeout(Conn& c) {
  if (c.write_deadline <= now) {
    spdlog::debug("HTTP transport: {} accepted no byte for {}: closed", c.peer,
                  ms_text(opt.timeouts.idle));
    close_conn(c);
    return;
  }
  switch (c.phase) {
    case Phase::kHead:
      if (refuse(c, {408,
                     "request_timeout",
                     c.phase_deadline <= now
                         ? "the request head did not arrive within " + ms_text(opt.timeouts.header)
                         : "no byte of the request head for " + ms_text(opt.timeouts.idle),
                     {}}))
        update_interest(c);
      return;
    case Phase::kBody:
      if (refuse(c, {408,
                     "request_timeout",
                     c.phase_deadline <= now
                         ? "the request body did not arrive within " + ms_text(opt.timeouts.body)
                         : "no byte of the request body for " + ms_text(opt.timeouts.idle),
                     {}}))
        update_interest(c);
      return;
    case Phase::kAnswering:
      return;
    case Phase::kHandshake:
    case Phase::kWaiting:
    case Phase::kClosing:
      close_conn(c);
      return;
  }
}

// ---------------------------------------------------------------- exchange actions

void HttpServer::Impl::respond(Exchange& ex, HttpResponse r) {
  Conn* c = current(ex);
  if (!c || c->response_started) return;
  queue_response(*c, r, c->keep_alive);
  finish_action(*c);
}

void HttpServer::Impl::start_stream(Exchange& ex, HttpResponse head) {
  Conn* c = current(ex);
  if (!c || c->response_started) return;
  c->response_started = true;
  c->streaming = true;
  if (c->minor < 1 || stopping.load()) c->keep_alive = false;  // HTTP/1.0: ends with the close
  queue_out(*c, format_head(head, c->minor, c->keep_alive, std::nullopt));
  finish_action(*c);
}

void HttpServer::Impl::write(Exchange& ex, std::string data) {
  Conn* c = current(ex);
  if (!c || !c->streaming || data.empty()) return;
  if (c->minor >= 1)
    queue_out(*c, format_chunk(data));
  else
    queue_out(*c, data);
  finish_action(*c);
}

void HttpServer::Impl::finish_stream(Exchange& ex) {
  Conn* c = current(ex);
  if (!c || !c->streaming) return;
  if (c->minor >= 1) queue_out(*c, kLastChunk);
  c->streaming = false;
  c->exchange.reset();
  c->response_queued = true;
  c->close_after = !c->keep_alive;
  finish_action(*c);
}

// ---------------------------------------------------------------- HttpServer

HttpServer::HttpServer(HttpServerOptions options, Router router, ErrorRenderer render_error)
    : impl_(
          std::make_unique<Impl>(std::move(options), std::move(router), std::move(render_error))) {}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::start(const std::string& host, int port) {
  Impl& s = *impl_;
  if (!s.opt.tls_cert.empty()) s.tls = std::make_unique<TlsContext>(s.opt.tls_cert, s.opt.tls_key);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const std::string where = host + ":" + service;
  const int gai =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (gai != 0)
    throw std::runtime_error("cannot bind the HTTP API to " + where + ": " + ::gai_strerror(gai));
  std::string error = "no address";
  for (addrinfo* a = res; a && s.listen_fd < 0; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
      s.listen_fd = fd;
    } else {
      error = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (s.listen_fd < 0)
    throw std::runtime_error("cannot bind the HTTP API to " + where + ": " + error);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  s.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.epoll_fd < 0 || s.wake_fd < 0) {
    s.close_fds();
    throw std::runtime_error("HTTP API: cannot create its epoll or eventfd descriptors");
  }
  epoll_event e{};
  e.events = EPOLLIN;
  e.data.u64 = kWakeTag;
  ::epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.wake_fd, &e);
  e.data.u64 = kListenTag;
  ::epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &e);
  s.inbox = std::make_shared<detail::Inbox>(s.wake_fd);
  s.budget = std::make_shared<detail::BodyBudget>(s.opt.max_body_buffer_bytes);
  s.pool = std::make_unique<HandlerPool>(std::max(1, s.opt.handler_threads));
  s.thread = std::thread([&s] { s.run(); });
  return bound_port;
}

void HttpServer::Impl::close_fds() {
  for (int* fd : {&listen_fd, &epoll_fd, &wake_fd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void HttpServer::stop() {
  Impl& s = *impl_;
  s.stopping.store(true);
  if (s.thread.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(s.wake_fd, &one, sizeof one);
    s.thread.join();
  }
  if (s.inbox) s.inbox->close();
  if (s.pool) s.pool->stop();
  s.close_fds();
}

HttpServerStats HttpServer::stats() const {
  const Impl& s = *impl_;
  HttpServerStats st;
  st.open_connections = s.open.load();
  st.connections_evicted = s.evicted.load();
  st.connections_refused = s.refused.load();
  st.body_bytes_buffered = s.budget ? static_cast<int64_t>(s.budget->used()) : 0;
  std::lock_guard<std::mutex> lock(s.stats_mu);
  st.refusals = s.refusals;
  return st;
}

}  // namespace shirg::http
