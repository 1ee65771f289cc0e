#include "server/openai/http_common.h"

#include "server/admission.h"
#include "server/proto_convert.h"

namespace shirg::rpc::openai {

grpc::Status admit_http(const ServiceContext& sc, const http::HttpRequest& req,
                        Executor** executor) {
  return admit_call(sc, req.header_values("Authorization"), Edge::kHttp, executor);
}

std::string http_request_id(const http::HttpRequest& req) {
  const std::string* id = req.header("X-Request-Id");
  return id && is_valid_request_id(*id) ? *id : make_request_id();
}

std::string served_model_id(const ServiceContext& sc) {
  std::string dir = sc.model_info.checkpoint();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  const std::size_t slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

http::HttpResponse json_response(int status, std::string body, const std::string& request_id) {
  http::HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  r.set_header("X-Request-Id", request_id);
  return r;
}

http::HttpResponse error_response(const ApiError& e, const std::string& request_id) {
  http::HttpResponse r = json_response(e.http_status, error_body(e), request_id);
  if (e.http_status == 429 || e.http_status == 503) r.set_header("Retry-After", "1");
  return r;
}

}  // namespace shirg::rpc::openai
