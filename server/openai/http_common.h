#pragma once
// Pieces every handler of the OpenAI HTTP API uses: admission (server/admission.h, worded for
// HTTP), request ids, the served model's id, JSON and error responses.
#include <string>
#include <string_view>
#include <vector>

#include "server/http/http_message.h"
#include "server/openai/api_error.h"
#include "server/service_context.h"

namespace shirg::rpc::openai {

// admit_call() for an HTTP request (its Authorization headers; HTTP wording). OK: *executor set.
grpc::Status admit_http(const ServiceContext& sc, const http::HttpRequest& req,
                        Executor** executor);

// The "X-Request-Id" header when valid, else a new id.
std::string http_request_id(const http::HttpRequest& req);

// The served model id: the last path component of the checkpoint directory.
std::string served_model_id(const ServiceContext& sc);

// A JSON response carrying X-Request-Id.
http::HttpResponse json_response(int status, std::string body, const std::string& request_id);
// An OpenAI error response: e.http_status, {"error": {...}}, X-Request-Id, Retry-After: 1 on
// 429 and 503.
http::HttpResponse error_response(const ApiError& e, const std::string& request_id);

}  // namespace shirg::rpc::openai
