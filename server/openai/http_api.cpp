#include "server/openai/http_api.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <stdexcept>

#include "server/call_common.h"
#include "server/http/exchange.h"
#include "server/logging.h"
#include "server/openai/chat_call.h"
#include "server/openai/chat_response.h"
#include "server/openai/http_common.h"

namespace shirg::rpc::openai {
namespace {

constexpr const char* kChatPath = "/v1/chat/completions";
constexpr const char* kModelsPath = "/v1/models";

// The status name a transport refusal counts under in shirg_requests_total{code}.
grpc::StatusCode status_of_http(int http_status) {
  switch (http_status) {
    case 404:
      return grpc::StatusCode::NOT_FOUND;
    case 405:
    case 501:
      return grpc::StatusCode::UNIMPLEMENTED;
    case 408:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case 413:
    case 429:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case 503:
      return grpc::StatusCode::UNAVAILABLE;
    default:
      return http_status >= 500 ? grpc::StatusCode::INTERNAL : grpc::StatusCode::INVALID_ARGUMENT;
  }
}

// The rpc label of a route's requests.
const char* rpc_of(const http::Route* route) {
  if (!route) return nullptr;
  if (route->path == kChatPath) return kRpcChatCompletions;
  if (route->path.rfind(kModelsPath, 0) == 0) return kRpcModels;
  return nullptr;
}

}  // namespace

http::HttpServerOptions http_options(const ServerConfig& c) {
  http::HttpServerOptions o;
  o.limits.max_request_line = static_cast<std::size_t>(c.http_max_request_line_bytes);
  o.limits.max_header_line = static_cast<std::size_t>(c.http_max_header_line_bytes);
  o.limits.max_headers = static_cast<std::size_t>(c.http_max_headers);
  o.limits.max_head_bytes = static_cast<std::size_t>(c.http_max_head_bytes);
  o.limits.max_body_bytes = static_cast<uint64_t>(c.http_body_limit_bytes());
  o.timeouts.header = std::chrono::milliseconds(c.http_header_timeout_ms);
  o.timeouts.body = std::chrono::milliseconds(c.http_body_timeout_ms);
  o.timeouts.idle = std::chrono::milliseconds(c.http_idle_timeout_ms);
  o.timeouts.keepalive = std::chrono::milliseconds(c.http_keepalive_timeout_ms);
  o.max_connections = static_cast<std::size_t>(c.http_max_connections);
  o.max_body_buffer_bytes = static_cast<uint64_t>(c.http_max_body_buffer_mib) << 20;
  o.tls_cert = c.tls_cert;
  o.tls_key = c.tls_key;
  return o;
}

HttpApiServer::HttpApiServer(ServiceContext& sc)
    : sc_(sc), created_(static_cast<int64_t>(std::time(nullptr))) {}

HttpApiServer::~HttpApiServer() {
  stop();
}

int HttpApiServer::start(const std::string& host, int port) {
  http::Router router;

  http::Route chat;
  chat.path = kChatPath;
  chat.methods = {"POST"};
  chat.body_type = "application/json";
  chat.offload = true;  // parsing a body of up to tens of MiB takes milliseconds
  // Credentials and server state before a single body byte is read.
  chat.check_head = [this](const http::HttpRequest& head) -> std::optional<http::HttpResponse> {
    Executor* ex = nullptr;
    const grpc::Status s = admit_http(sc_, head, &ex);
    if (s.ok()) return std::nullopt;
    CallAccounting acct(sc_, kRpcChatCompletions, kProtocolHttp);
    acct.set_request_id(http_request_id(head));
    acct.finished(s);
    return error_response(api_error(s), acct.request_id());
  };
  chat.handle = [this](std::shared_ptr<http::Exchange> ex) { serve_chat(sc_, std::move(ex)); };
  router.add(chat);

  auto models = [this](std::shared_ptr<http::Exchange> ex) {
    const http::HttpRequest& req = ex->request();
    CallAccounting acct(sc_, kRpcModels, kProtocolHttp);
    acct.set_request_id(http_request_id(req));
    Executor* exe = nullptr;
    if (grpc::Status s = admit_http(sc_, req, &exe); !s.ok()) {
      acct.finished(s);
      return ex->respond(error_response(api_error(s), acct.request_id()));
    }
    const std::string id = served_model_id(sc_);
    if (!ex->param().empty() && ex->param() != id) {
      const ApiError e = api_error(
          grpc::Status(grpc::StatusCode::NOT_FOUND, "model '" + ex->param() +
                                                        "' is not served here; this server "
                                                        "serves '" +
                                                        id + "'"),
          "model");
      acct.finished(grpc::Status(e.status, e.message));
      return ex->respond(error_response(e, acct.request_id()));
    }
    acct.finished(grpc::Status::OK);
    ex->respond(json_response(
        200, ex->param().empty() ? models_json(id, created_) : model_json(id, created_),
        acct.request_id()));
  };
  http::Route list;
  list.path = kModelsPath;
  list.methods = {"GET"};
  list.handle = models;
  router.add(list);
  http::Route one = list;
  one.path = std::string(kModelsPath) + "/";
  one.has_param = true;
  router.add(one);

  // Never behind the token (orchestrators probe it); answered on the transport thread, so it
  // answers while every inference slot and handler thread is busy.
  http::Route health;
  health.path = "/health";
  health.methods = {"GET"};
  health.handle = [this](std::shared_ptr<http::Exchange> ex) {
    const bool serving = !sc_.draining.load() && sc_.executor.load() != nullptr;
    ex->respond(json_response(serving ? 200 : 503,
                              serving ? R"({"status":"serving"})" : R"({"status":"not_serving"})",
                              http_request_id(ex->request())));
  };
  router.add(health);

  http_ = std::make_unique<http::HttpServer>(
      http_options(sc_.config), std::move(router),
      [this](const http::HttpError& e, const http::HttpRequest* head, const http::Route* route,
             const std::string& peer) { return render_error(e, head, route, peer); });
  return http_->start(host, port);
}

// A refusal of the transport in OpenAI's error shape. Requests of a known route are counted
// and logged like the route's own answers; others get one log line.
http::HttpResponse HttpApiServer::render_error(const http::HttpError& e,
                                               const http::HttpRequest* head,
                                               const http::Route* route, const std::string& peer) {
  ApiError a;
  a.http_status = e.status;
  a.status = status_of_http(e.status);
  a.code = e.status == 429 ? "resource_exhausted" : e.code;
  a.message = e.message;
  if (e.status == 413)
    a.message += sc_.config.http_max_body_kib > 0
                     ? std::string(" (--http-max-body-kib)")
                     : " (--max-receive-mib " + std::to_string(sc_.config.max_receive_mib) +
                           " MiB of image, base64-encoded, plus 64 KiB for the JSON around it; "
                           "--http-max-body-kib sets another limit)";
  if (e.status == 415 && head) {
    const std::string* ct = head->header("Content-Type");
    if (ct && ct->rfind("application/x-www-form-urlencoded", 0) == 0)
      a.message +=
          " (curl -d sends application/x-www-form-urlencoded: add -H \"Content-Type: "
          "application/json\")";
  }
  const std::string request_id = head ? http_request_id(*head) : make_request_id();
  if (const char* rpc = head ? rpc_of(route) : nullptr) {
    CallAccounting acct(sc_, rpc, kProtocolHttp);
    acct.set_request_id(request_id);
    acct.finished(grpc::Status(a.status, a.message));
  } else {
    RequestIdScope scope(request_id);
    spdlog::warn("HTTP {} to {}{}: {}", e.status, peer,
                 head ? " for " + head->method + " " + head->path : std::string(), a.message);
  }
  return error_response(a, request_id);
}

void HttpApiServer::stop() {
  if (http_) http_->stop();
}

http::HttpServerStats HttpApiServer::stats() const {
  return http_ ? http_->stats() : http::HttpServerStats{};
}

}  // namespace shirg::rpc::openai
