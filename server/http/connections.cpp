#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/http/response_format.h"
#include "server/http/server_impl.h"

namespace shirg::http {

using namespace loop;

namespace {

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

}  // namespace

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

}  // namespace shirg::http
