#pragma once
// OpenAI-style errors of the HTTP API: the HTTP status and the JSON error object
// {"error": {"message", "type", "param", "code"}} clients (the openai SDKs) expect.
#include <grpcpp/support/status.h>

#include <string>

namespace shirg::rpc::openai {

struct ApiError {
  int http_status = 400;
  grpc::StatusCode status = grpc::StatusCode::INVALID_ARGUMENT;  // metrics `code` label, logs
  std::string message;
  std::string param;  // the offending request field ("messages[0].content"), "" when none
  std::string code;   // machine-readable: the status name in lower case ("resource_exhausted")
};

// The HTTP status of a (gRPC-canonical) status: INVALID_ARGUMENT / FAILED_PRECONDITION 400,
// UNAUTHENTICATED 401, NOT_FOUND 404, RESOURCE_EXHAUSTED 429 (queue full), CANCELLED 499 (the
// client closed the connection), UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504,
// anything else 500.
int http_status_of(grpc::StatusCode code);
// From a status: HTTP status as above, code = the status name in lower case.
ApiError api_error(const grpc::Status& s, std::string param = "");
// A 400 INVALID_ARGUMENT.
ApiError invalid_request(std::string message, std::string param = "");

// OpenAI's `type` for an HTTP status: authentication_error (401), permission_error (403),
// rate_limit_error (429), timeout_error (504), invalid_request_error (every other 4xx, and 501
// and 505: a method or HTTP version this server does not implement), server_error (else).
const char* error_type_of(int http_status);
// {"error": {...}} serialized (param and code are null when empty).
std::string error_body(const ApiError& e);

}  // namespace shirg::rpc::openai
