#include "server/openai/http_common.h"

#include <grpcpp/support/string_ref.h>
#include <httplib.h>

#include <map>

#include "server/auth.h"
#include "server/proto_convert.h"

namespace shirg::rpc::openai {

std::optional<ApiError> admit_http(const ServiceContext& sc, const httplib::Request& req,
                                   Executor** executor) {
  // The same check as the gRPC metadata (server/auth.*): every Authorization header counts.
  std::multimap<grpc::string_ref, grpc::string_ref> md;
  const auto range = req.headers.equal_range("Authorization");  // case-insensitive map
  for (auto it = range.first; it != range.second; ++it)
    md.emplace("authorization", grpc::string_ref(it->second));
  if (grpc::Status s = check_bearer_token(md, sc.auth_token); !s.ok()) {
    ApiError e = api_error(s);
    // The gRPC message names metadata; say it the HTTP way.
    if (e.message.rfind("missing credentials", 0) == 0)
      e.message = "missing credentials: send the header \"Authorization: Bearer <token>\"";
    return e;
  }
  if (sc.draining.load())
    return api_error(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
  Executor* ex = sc.executor.load(std::memory_order_acquire);
  if (!ex)
    return api_error(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                  "model is loading or warming up; retry when GET /health "
                                  "answers 200"));
  *executor = ex;
  return std::nullopt;
}

std::string http_request_id(const httplib::Request& req) {
  const std::string id = req.get_header_value("X-Request-Id");
  return is_valid_request_id(id) ? id : make_request_id();
}

std::string served_model_id(const ServiceContext& sc) {
  std::string dir = sc.model_info.checkpoint();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::size_t slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.http_status;
  if (e.http_status == 429 || e.http_status == 503) res.set_header("Retry-After", "1");
  res.set_content(error_body(e), "application/json");
}

}  // namespace shirg::rpc::openai
