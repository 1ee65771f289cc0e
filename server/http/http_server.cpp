#include "server/http/http_server.h"

#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/http/response_format.h"
#include "server/http/server_impl.h"

#include <stdexcept>

namespace shirg::http {

using namespace loop;

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
