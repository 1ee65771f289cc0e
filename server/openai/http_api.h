#pragma once
// The OpenAI-compatible HTTP API (docs/server.md "OpenAI-compatible HTTP API"):
//   POST /v1/chat/completions   one image + question -> answer; "stream": true -> SSE
//   GET  /v1/models, /v1/models/{id}
//   GET  /health                200 while SERVING, else 503 (never behind the token)
// as routes on the HTTP/1.1 transport (server/http), plain or TLS (the gRPC port's certificate
// and key). Every chat request takes the gRPC API's path: the same admission
// (server/admission.h), the same edge validation (from_proto), Executor::enqueue, the same
// observer bookkeeping and metrics (protocol="http"). New routes (a static page) are added in
// HttpApiServer::start, next to these.
#include <cstdint>
#include <memory>
#include <string>

#include "server/http/http_server.h"
#include "server/service_context.h"

namespace shirg::rpc::openai {

// The transport options of shirg-server's --http-* flags.
http::HttpServerOptions http_options(const ServerConfig& config);

class HttpApiServer {
 public:
  // `sc` must outlive this object.
  explicit HttpApiServer(ServiceContext& sc);
  ~HttpApiServer();  // stop()
  HttpApiServer(const HttpApiServer&) = delete;
  HttpApiServer& operator=(const HttpApiServer&) = delete;

  // Binds host:port (0: the OS chooses), with TLS when sc.config has --tls-cert/--tls-key, and
  // serves in the background. Returns the bound port; throws std::runtime_error when the
  // certificate cannot be loaded or binding fails.
  int start(const std::string& host, int port);
  // Closes the connections and stops the threads (the executor is shut down first, so every
  // chat request has its answer by then). Idempotent.
  void stop();

  http::HttpServerStats stats() const;

 private:
  http::HttpResponse render_error(const http::HttpError& e, const http::HttpRequest* head,
                                  const http::Route* route, const std::string& peer);
  ServiceContext& sc_;
  std::unique_ptr<http::HttpServer> http_;
  int64_t created_ = 0;  // Unix seconds at construction: the model's "created"
};

}  // namespace shirg::rpc::openai
