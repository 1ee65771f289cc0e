#pragma once
// The Prometheus scrape endpoint: GET /metrics over plain HTTP/1.1 on its own thread.
//
// One poll() loop serves every connection, so slow or hostile clients cannot hold the scrape
// off: each connection gets a total deadline (kConnectionDeadline from accept to the last byte
// sent), requests are read up to kMaxRequestBytes of headers and never a body (non-GET/HEAD
// methods answer 405 at once), every response closes the connection, and when kMaxConnections
// are open the oldest is dropped to admit a new one.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>

namespace shirg::rpc {

class MetricsHttpServer {
 public:
  static constexpr std::chrono::milliseconds kConnectionDeadline{2000};
  static constexpr std::size_t kMaxRequestBytes = 8192;
  static constexpr std::size_t kMaxConnections = 64;

  // `render` produces the exposition text; it is called on the HTTP thread for every scrape.
  explicit MetricsHttpServer(std::function<std::string()> render);
  ~MetricsHttpServer();  // stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds host:port (0: the OS chooses) and serves in a background thread. Returns the bound
  // port; throws std::runtime_error when binding fails.
  int start(const std::string& host, int port);
  void stop();  // idempotent; joins the thread

 private:
  void loop();
  std::function<std::string()> render_;
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};  // a pipe: stop() writes, the loop wakes up
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace shirg::rpc
