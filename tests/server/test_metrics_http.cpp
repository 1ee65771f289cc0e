// The /metrics endpoint under slow and malformed clients: a scrape is answered while many
// connections trickle bytes, a POST without its body is answered at once, unknown paths and
// methods get clear statuses. Every socket read is bounded by a receive timeout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>
#include "tests/common/catch.h"

#include "server/metrics_http.h"

using shirg::rpc::MetricsHttpServer;

namespace {

int connect_to(int port, int recv_timeout_s) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{recv_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Sends `request`, reads until the server closes or the receive timeout passes.
std::string http_exchange(int port, const std::string& request, int recv_timeout_s = 10) {
  const int fd = connect_to(port, recv_timeout_s);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("metrics: GET, HEAD, unknown path, other methods, oversized head") {
  MetricsHttpServer http([] { return std::string("shirg_up 1\n"); });
  const int port = http.start("127.0.0.1", 0);
  REQUIRE(port > 0);
  const std::string ok = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(ok.find("version=0.0.4") != std::string::npos);
  CHECK(ok.find("Connection: close") != std::string::npos);
  CHECK(ok.substr(ok.size() - 11) == "shirg_up 1\n");
  const std::string head = http_exchange(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(head.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(head.find("shirg_up") == std::string::npos);
  CHECK(http_exchange(port, "GET /other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(http_exchange(port, "GET /metrics?x=1 HTTP/1.0\n\n").rfind("HTTP/1.1 200", 0) == 0);
  CHECK(http_exchange(port, "garbage\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(http_exchange(port, "GET /" + std::string(9000, 'a')).rfind("HTTP/1.1 431", 0) == 0);
  http.stop();
  http.stop();  // idempotent
}

TEST_CASE("metrics: a POST without its body is answered at once, not after a read timeout") {
  MetricsHttpServer http([] { return std::string("x 1\n"); });
  const int port = http.start("127.0.0.1", 0);
  // Content-Length promises a body that never comes; the answer must not wait for it (a 1 s
  // receive timeout would cut a response that waited).
  const std::string r = http_exchange(
      port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", /*timeout=*/1);
  CHECK(r.rfind("HTTP/1.1 405", 0) == 0);
  CHECK(r.find("Allow: GET, HEAD") != std::string::npos);
  const std::string no_length = http_exchange(port, "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1);
  CHECK(no_length.rfind("HTTP/1.1 405", 0) == 0);
}

TEST_CASE("metrics: the scrape answers while many slow connections trickle bytes") {
  MetricsHttpServer http([] { return std::string("busy 1\n"); });
  const int port = http.start("127.0.0.1", 0);
  // 100 connections (more than any thread pool and than the connection cap) that each send a
  // byte of a never-ending header every 100 ms for the whole test.
  std::vector<int> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(connect_to(port, 1));
    ::send(slow.back(), "GET /metrics HTTP/1.1\r\nX-Slow: ", 31, MSG_NOSIGNAL);
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    while (!stop.load()) {
      for (int fd : slow) ::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (int i = 0; i < 5; ++i) {
    const std::string r = http_exchange(port, "GET /metrics HTTP/1.1\r\n\r\n", 10);
    CHECK(r.rfind("HTTP/1.1 200 OK", 0) == 0);
    CHECK(r.find("busy 1") != std::string::npos);
  }
  stop.store(true);
  trickle.join();
  for (int fd : slow) ::close(fd);
}

TEST_CASE("metrics: binding a bad address is a clear error") {
  MetricsHttpServer http([] { return std::string(); });
  CHECK_THROWS_WITH(
      http.start("203.0.113.77", 0),
      Catch::Matchers::ContainsSubstring("cannot bind the metrics endpoint to 203.0.113.77:0"));
}
