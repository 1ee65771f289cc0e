#pragma once
// Pieces every handler of the HTTP API uses: admission (the gRPC API's order), request ids,
// error responses.
#include <optional>
#include <string>

#include "server/openai/api_error.h"
#include "server/service_context.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace shirg::rpc::openai {

// Admission of a call, in the gRPC API's order: 401 (bad/missing "Authorization: Bearer"),
// 503 (shutting down), 503 (model loading or warming up). nullopt: *executor is set.
std::optional<ApiError> admit_http(const ServiceContext& sc, const httplib::Request& req,
                                   Executor** executor);

// The "X-Request-Id" header when valid, else a new id.
std::string http_request_id(const httplib::Request& req);

// The served model id: the last path component of the checkpoint directory.
std::string served_model_id(const ServiceContext& sc);

// Writes an OpenAI error response (status, JSON body; Retry-After on 429 and 503).
void send_error(httplib::Response& res, const ApiError& e);

}  // namespace shirg::rpc::openai
