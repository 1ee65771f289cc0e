#include "server/metrics_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <vector>

namespace shirg::rpc {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  Clock::time_point deadline;
  enum class State { kReading, kWriting, kDraining } state = State::kReading;
  std::string in;   // request bytes read so far (headers only)
  std::string out;  // the response
  std::size_t sent = 0;
};

std::string response(const char* status, const std::string& content_type, const std::string& body,
                     bool head, const char* extra_header = "") {
  std::string r = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_header +
                  "Connection: close\r\n\r\n";
  if (!head) r += body;
  return r;
}

// The response to a complete request head (or to one that grew too large: `too_large`).
std::string answer(const std::string& head_bytes, bool too_large,
                   const std::function<std::string()>& render) {
  const char* text = "text/plain; charset=utf-8";
  if (too_large) return response("431 Request Header Fields Too Large", text, "too large\n", false);
  const std::size_t eol = head_bytes.find_first_of("\r\n");
  const std::string line = head_bytes.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos)
    return response("400 Bad Request", text, "bad request line\n", false);
  const std::string method = line.substr(0, sp1);
  std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  const bool head = method == "HEAD";
  // Never read a body: anything but GET/HEAD is refused before it could be waited for.
  if (method != "GET" && !head)
    return response("405 Method Not Allowed", text, "GET /metrics\n", false,
                    "Allow: GET, HEAD\r\n");
  if (target == "/metrics") {
    try {
      return response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render(), head);
    } catch (const std::exception& e) {
      return response("500 Internal Server Error", text, std::string(e.what()) + "\n", head);
    }
  }
  if (target == "/") return response("200 OK", text, "shirg-server metrics: GET /metrics\n", head);
  return response("404 Not Found", text, "not found; GET /metrics\n", head);
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Reads what is there; false when the connection is finished (EOF or error).
bool read_some(Conn& c) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (c.state == Conn::State::kReading) c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.size() > MetricsHttpServer::kMaxRequestBytes) return true;
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

// Writes what it can; when all is sent, half-closes and moves to draining. False on error.
bool write_some(Conn& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
  // Half-close and read until the client closes: closing with unread bytes (a POST body) would
  // send a reset that can destroy the response in flight.
  ::shutdown(c.fd, SHUT_WR);
  c.state = Conn::State::kDraining;
  return true;
}

}  // namespace

MetricsHttpServer::MetricsHttpServer(std::function<std::string()> render)
    : render_(std::move(render)) {}

MetricsHttpServer::~MetricsHttpServer() {
  stop();
}

int MetricsHttpServer::start(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int gai =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  const std::string where = host + ":" + service;
  if (gai != 0)
    throw std::runtime_error("cannot bind the metrics endpoint to " + where + ": " +
                             ::gai_strerror(gai));
  std::string error = "no address";
  for (addrinfo* a = res; a && listen_fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      listen_fd_ = fd;
    } else {
      error = std::strerror(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0)
    throw std::runtime_error("cannot bind the metrics endpoint to " + where + ": " + error);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  set_nonblocking(listen_fd_);
  if (::pipe2(wake_fd_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("metrics endpoint: pipe2 failed");
  }
  thread_ = std::thread([this] { loop(); });
  return bound_port;
}

void MetricsHttpServer::stop() {
  stopping_.store(true);
  if (wake_fd_[1] >= 0) {
    const char b = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_[1], &b, 1);
  }
  if (thread_.joinable()) thread_.join();
  const auto close_fd = [](int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  close_fd(listen_fd_);
  close_fd(wake_fd_[0]);
  close_fd(wake_fd_[1]);
}

void MetricsHttpServer::loop() {
  std::deque<Conn> conns;  // oldest first
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_fd_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    auto now = Clock::now();
    int timeout_ms = -1;
    for (const Conn& c : conns) {
      fds.push_back(
          {c.fd, static_cast<short>(c.state == Conn::State::kWriting ? POLLOUT : POLLIN), 0});
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count() + 1;
      const int ms = static_cast<int>(std::max<int64_t>(0, left));
      timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
    }
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (stopping_.load()) break;
    now = Clock::now();
    std::vector<bool> done(conns.size(), false);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      const short ev = fds[i + 2].revents;
      if (now >= c.deadline) {
        done[i] = true;  // too slow: whatever state it is in
        continue;
      }
      if (!ev) continue;
      if (c.state == Conn::State::kWriting) {
        done[i] = !write_some(c);
        continue;
      }
      if (!read_some(c)) {
        done[i] = true;
        continue;
      }
      if (c.state != Conn::State::kReading) continue;  // draining: discarded
      const bool complete =
          c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos;
      const bool too_large = !complete && c.in.size() > kMaxRequestBytes;
      if (complete || too_large) {
        c.out = answer(c.in, too_large, render_);
        c.in.clear();
        c.state = Conn::State::kWriting;
        done[i] = !write_some(c);
      }
    }
    std::deque<Conn> kept;
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (done[i])
        ::close(conns[i].fd);
      else
        kept.push_back(std::move(conns[i]));
    }
    conns.swap(kept);
    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;  // EAGAIN: all taken; other errors: try again on the next wake-up
        if (conns.size() >= kMaxConnections) {  // full: the oldest goes, the new one is served
          ::close(conns.front().fd);
          conns.pop_front();
        }
        Conn c;
        c.fd = fd;
        c.deadline = now + kConnectionDeadline;
        conns.push_back(std::move(c));
      }
    }
    if (fds[0].revents & POLLIN) {
      char buf[16];
      while (::read(wake_fd_[0], buf, sizeof buf) > 0) {
      }
    }
  }
  for (const Conn& c : conns) ::close(c.fd);
}

}  // namespace shirg::rpc
