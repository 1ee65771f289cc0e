#include "server/openai/http_api.h"

#include <httplib.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>

#include "server/call_common.h"
#include "server/openai/chat_call.h"
#include "server/openai/chat_response.h"
#include "server/openai/http_common.h"

namespace shirg::rpc::openai {
namespace {

// Largest body: a --max-receive-mib message after base64 (4/3) plus room for the JSON around it.
std::size_t body_limit(const ServerConfig& c) {
  return static_cast<std::size_t>(c.max_receive_mib << 20) / 3 * 4 + (64u << 10);
}

std::unique_ptr<httplib::Server> make_server(const ServerConfig& c) {
  if (c.tls_cert.empty()) return std::make_unique<httplib::Server>();
  auto s = std::make_unique<httplib::SSLServer>(c.tls_cert.c_str(), c.tls_key.c_str());
  if (!s->is_valid())
    throw std::runtime_error("cannot load --tls-cert '" + c.tls_cert + "' / --tls-key '" +
                             c.tls_key + "' for the HTTP API");
  return s;
}

}  // namespace

HttpApiServer::HttpApiServer(ServiceContext& sc)
    : sc_(sc), http_(make_server(sc.config)), created_(static_cast<int64_t>(std::time(nullptr))) {
  // A handler holds its thread while its request is queued or running: enough threads for
  // every request the executor accepts (running + queued), plus a few for quick answers.
  const std::size_t threads = static_cast<std::size_t>(
      std::clamp<int64_t>(sc.config.workers + sc.config.max_queue + 4, 8, 512));
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(body_limit(sc.config));
  routes();
}

HttpApiServer::~HttpApiServer() {
  stop();
}

void HttpApiServer::routes() {
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    serve_chat(sc_, req, res);
  });
  auto models = [this](const httplib::Request& req, httplib::Response& res) {
    CallAccounting acct(sc_, kRpcModels, kProtocolHttp);
    acct.set_request_id(http_request_id(req));
    res.set_header("X-Request-Id", acct.request_id());
    Executor* ex = nullptr;
    if (auto e = admit_http(sc_, req, &ex)) {
      acct.finished(grpc::Status(e->status, e->message));
      return send_error(res, *e);
    }
    const std::string id = served_model_id(sc_);
    if (req.matches.size() > 1 && req.matches[1] != id) {
      const ApiError e = api_error(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "model '" + std::string(req.matches[1]) +
                                                        "' is not served here; this server "
                                                        "serves '" +
                                                        id + "'"),
          "model");
      acct.finished(grpc::Status(e.status, e.message));
      return send_error(res, e);
    }
    acct.finished(grpc::Status::OK);
    res.set_content(req.matches.size() > 1 ? model_json(id, created_) : models_json(id, created_),
                    "application/json");
  };
  http_->Get("/v1/models", models);
  http_->Get(R"(/v1/models/([^/]+))", models);
  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool serving = !sc_.draining.load() && sc_.executor.load() != nullptr;
    res.status = serving ? 200 : 503;
    res.set_content(serving ? R"({"status":"serving"})" : R"({"status":"not_serving"})",
                    "application/json");
  });
  // Errors cpp-httplib answers by itself (unknown path 404, wrong method, body over the limit
  // 413, malformed HTTP 400) get the OpenAI error shape too; handlers' own errors keep theirs.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e;
    e.http_status = res.status;
    const bool chat = req.path == "/v1/chat/completions";
    if (res.status == 413 &&
        req.get_header_value("Content-Type") == "application/x-www-form-urlencoded") {
      // cpp-httplib parses form bodies itself and refuses those over 8 KiB (curl -d without -H).
      res.status = 400;
      e.http_status = 400;
      e.status = grpc::StatusCode::INVALID_ARGUMENT;
      e.code = "invalid_argument";
      e.message =
          "the body was sent as application/x-www-form-urlencoded: send the JSON request with "
          "the header \"Content-Type: application/json\"";
      if (chat)
        sc_.metrics.record_request(kRpcChatCompletions, "INVALID_ARGUMENT", 0, kProtocolHttp);
    } else if (res.status == 413) {
      e.status = grpc::StatusCode::RESOURCE_EXHAUSTED;
      e.code = "payload_too_large";
      e.message = "request body is larger than " + std::to_string(body_limit(sc_.config)) +
                  " bytes (--max-receive-mib " + std::to_string(sc_.config.max_receive_mib) +
                  " MiB of image, base64-encoded, plus the JSON around it)";
      if (chat)
        sc_.metrics.record_request(kRpcChatCompletions, "RESOURCE_EXHAUSTED", 0, kProtocolHttp);
    } else if (res.status == 404) {
      e.status = grpc::StatusCode::NOT_FOUND;
      e.code = "not_found";
      e.message = "no route " + req.method + " " + req.path +
                  " (this server serves POST /v1/chat/completions, GET /v1/models, GET /health)";
    } else {
      e.status = grpc::StatusCode::INVALID_ARGUMENT;
      e.code = "invalid_request";
      e.message = "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
    }
    res.set_content(error_body(e), "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
}

int HttpApiServer::start(const std::string& host, int port) {
  int bound = port;
  if (port == 0) {
    bound = http_->bind_to_any_port(host.c_str());
  } else if (!http_->bind_to_port(host.c_str(), port)) {
    bound = -1;
  }
  if (bound <= 0)
    throw std::runtime_error("cannot bind the HTTP API to " + host + ":" + std::to_string(port));
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  return bound;
}

void HttpApiServer::stop() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace shirg::rpc::openai
