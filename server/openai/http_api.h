#pragma once
// The OpenAI-compatible HTTP API (docs/server.md "OpenAI-compatible HTTP API"):
//   POST /v1/chat/completions   one image + question -> answer; "stream": true -> SSE
//   GET  /v1/models, /v1/models/{id}
//   GET  /health                200 while SERVING, else 503 (never behind the token)
// on cpp-httplib, plain or TLS (the gRPC port's certificate and key). Every chat request takes
// the gRPC API's path: the same admission (bearer token, draining, model ready), the same edge
// validation (from_proto), Executor::enqueue, the same observer bookkeeping and metrics
// (protocol="http").
#include <memory>
#include <string>
#include <thread>

#include "server/service_context.h"

namespace httplib {
class Server;
}

namespace shirg::rpc::openai {

class HttpApiServer {
 public:
  // `sc` must outlive this object.
  explicit HttpApiServer(ServiceContext& sc);
  ~HttpApiServer();  // stop()
  HttpApiServer(const HttpApiServer&) = delete;
  HttpApiServer& operator=(const HttpApiServer&) = delete;

  // Binds host:port (0: the OS chooses) with TLS when sc.config has --tls-cert/--tls-key, and
  // serves on a thread pool in the background. Returns the bound port; throws
  // std::runtime_error when the certificate cannot be loaded or binding fails.
  int start(const std::string& host, int port);
  // Stops accepting and joins the threads; waits for running handlers, which finish once the
  // engine reports their requests done (the executor is shut down first). Idempotent.
  void stop();

 private:
  void routes();
  ServiceContext& sc_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int64_t created_ = 0;  // Unix seconds at construction: the model's "created"
};

}  // namespace shirg::rpc::openai
