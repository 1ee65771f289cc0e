#pragma once
// The Prometheus scrape endpoint: GET /metrics over plain HTTP (cpp-httplib) on its own thread.
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace shirg::rpc {

class MetricsHttpServer {
 public:
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
  std::function<std::string()> render_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace shirg::rpc
