#include "server/openai/api_error.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "proto/grpc_status_name.h"

namespace shirg::rpc::openai {

int http_status_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

ApiError api_error(const grpc::Status& s, std::string param) {
  std::string code = grpc_status_name(s.error_code());
  for (char& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ApiError{http_status_of(s.error_code()), s.error_code(), s.error_message(),
                  std::move(param), std::move(code)};
}

ApiError invalid_request(std::string message, std::string param) {
  return api_error(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message)),
                   std::move(param));
}

const char* error_type_of(int http_status) {
  switch (http_status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 501:  // a method this server does not know: the request's fault
    case 505:
      return "invalid_request_error";
    default:
      return http_status >= 400 && http_status < 500 ? "invalid_request_error" : "server_error";
  }
}

std::string error_body(const ApiError& e) {
  using json = nlohmann::ordered_json;  // message, type, param, code: OpenAI's order
  json err = {{"message", e.message}, {"type", error_type_of(e.http_status)}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  err["code"] = e.code.empty() ? json(nullptr) : json(e.code);
  return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace shirg::rpc::openai
