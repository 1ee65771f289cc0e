#include "tests/server/raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

namespace shirg::testing {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

std::string RawResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return v;
  return "";
}

bool RawResponse::has_header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequal(k, name)) return true;
  return false;
}

RawConn::RawConn(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd_);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConn::~RawConn() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConn::send(std::string_view bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void RawConn::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

bool RawConn::fill(std::chrono::steady_clock::time_point until) {
  if (eof_) return false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          until - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    eof_ = true;  // EOF or reset
    return false;
  }
}

std::optional<RawResponse> RawConn::read_response(std::chrono::milliseconds timeout, bool head) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::size_t head_end;
  while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(until)) return std::nullopt;
  RawResponse r;
  const std::string text = buf_.substr(0, head_end);
  std::size_t pos = text.find("\r\n");
  const std::string status_line = text.substr(0, pos);
  if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
  r.status = std::atoi(status_line.c_str() + 9);
  while (pos != std::string::npos && pos < text.size()) {
    const std::size_t next = text.find("\r\n", pos + 2);
    const std::string line =
        text.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace_back(line.substr(0, colon), v);
    }
    pos = next;
  }
  buf_.erase(0, head_end + 4);
  if (head || r.status < 200 || r.status == 204 || r.status == 304) return r;
  if (iequal(r.header("Transfer-Encoding"), "chunked")) {
    for (;;) {
      std::size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos)
        if (!fill(until)) return std::nullopt;
      const std::size_t size = std::strtoul(buf_.substr(0, eol).c_str(), nullptr, 16);
      while (buf_.size() < eol + 2 + size + 2)
        if (!fill(until)) return std::nullopt;
      r.body.append(buf_, eol + 2, size);
      buf_.erase(0, eol + 2 + size + 2);
      if (size == 0) return r;
    }
  }
  if (r.has_header("Content-Length")) {
    const std::size_t n = std::strtoul(r.header("Content-Length").c_str(), nullptr, 10);
    while (buf_.size() < n)
      if (!fill(until)) break;
    r.body = buf_.substr(0, std::min(n, buf_.size()));
    buf_.erase(0, r.body.size());
    return r;
  }
  while (fill(until)) {
  }
  r.body = std::move(buf_);
  buf_.clear();
  return r;
}

std::optional<RawResponse> RawConn::read_final(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto r = read_response(left);
    if (!r || r->status >= 200) return r;
  }
}

bool RawConn::wait_closed(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (fill(until)) buf_.clear();
  return eof_;
}

std::string base64(const std::string& in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    for (int sh = 18; sh >= 0; sh -= 6) out += a[(v >> sh) & 63];
  }
  if (i < in.size()) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (i + 1 < in.size() ? static_cast<uint8_t>(in[i + 1]) << 8 : 0);
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += i + 1 < in.size() ? a[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<RawResponse> raw_request(int port, const std::string& bytes,
                                       std::chrono::milliseconds timeout) {
  RawConn c(port);
  if (!c.send(bytes)) return std::nullopt;
  return c.read_final(timeout);
}

std::optional<RawResponse> http_get(int port, const std::string& path,
                                    std::chrono::milliseconds timeout) {
  return raw_request(
      port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout);
}

}  // namespace shirg::testing
