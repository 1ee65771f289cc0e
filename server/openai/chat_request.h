#pragma once
// POST /v1/chat/completions bodies -> the shirg.v1 request the gRPC API takes, so both APIs go
// through the same edge validation (server/proto_convert.h from_proto) and the same engine path.
// This file checks what is specific to the OpenAI shape: JSON types, messages, the data: URL
// image, OpenAI fields we do not support; option ranges are from_proto's job.
#include <cstdint>
#include <optional>
#include <string>

#include "server/openai/api_error.h"
#include "server/proto_convert.h"
#include "shirg/v1/inference.pb.h"

namespace shirg::rpc::openai {

struct ChatRequest {
  v1::GenerateRequest proto;  // image (decoded bytes), question, generation + selection options
  std::string model;          // as sent
  bool stream = false;
  bool include_usage = false;            // stream_options.include_usage
  std::optional<int64_t> timeout_ms;     // server-side deadline from arrival (extra field)
  std::string image_param = "messages";  // JSON path of the image part (error messages)
  std::string text_param = "messages";   // JSON path of the text (error messages)
};

// Deepest nesting of objects/arrays a body may have (nlohmann's parser recurses).
inline constexpr int kMaxJsonDepth = 64;
// Largest timeout_ms (one day).
inline constexpr int64_t kMaxTimeoutMs = 86'400'000;

// Parses a request body. nullopt: *out is filled. Otherwise the error to answer with: 400 for
// malformed or unsupported input, 413 for an image over lim.max_image_bytes.
std::optional<ApiError> parse_chat_request(const std::string& body, const EdgeLimits& lim,
                                           ChatRequest* out);

// A from_proto error in the words of this API: "generation.gen_length" is "max_tokens",
// "generation.x" / "selection.x" are the extra fields "x", image and question errors point at
// the message part they came from.
ApiError edge_error(const Status& s, const ChatRequest& req);

// Base64 (RFC 4648 standard alphabet; '=' padding optional). False on any other character.
bool base64_decode(const std::string& in, std::string* out);

// Nesting depth of objects/arrays in a JSON text (strings skipped); stops counting past `limit`.
int json_depth(const std::string& text, int limit);

}  // namespace shirg::rpc::openai
