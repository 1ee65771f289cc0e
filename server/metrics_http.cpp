#include "server/metrics_http.h"

#include <httplib.h>

#include <stdexcept>

namespace shirg::rpc {

MetricsHttpServer::MetricsHttpServer(std::function<std::string()> render)
    : render_(std::move(render)), http_(std::make_unique<httplib::Server>()) {
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("shirg-server metrics: GET /metrics\n", "text/plain; charset=utf-8");
  });
}

MetricsHttpServer::~MetricsHttpServer() {
  stop();
}

int MetricsHttpServer::start(const std::string& host, int port) {
  int bound = port;
  if (port == 0) {
    bound = http_->bind_to_any_port(host.c_str());
  } else if (!http_->bind_to_port(host.c_str(), port)) {
    bound = -1;
  }
  if (bound <= 0)
    throw std::runtime_error("cannot bind the metrics endpoint to " + host + ":" +
                             std::to_string(port));
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return bound;
}

void MetricsHttpServer::stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace shirg::rpc
