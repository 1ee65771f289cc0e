// The OpenAI-compatible API's edge (server/openai/): request parsing into the shirg.v1 request,
// error mapping and shape, response bodies, streamed text deltas. No server.
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include "server/openai/api_error.h"
#include "server/openai/chat_request.h"
#include "server/openai/chat_response.h"
#include "server/server_config.h"
#include "server/test_pattern.h"

using namespace shirg;
using namespace shirg::rpc;
using namespace shirg::rpc::openai;
using Catch::Matchers::ContainsSubstring;
using json = nlohmann::json;

namespace {

std::string b64(const std::string& bytes) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += a[(v >> s) & 63];
  }
  if (bytes.size() - i == 1) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    const uint32_t v =
        (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += a[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

const std::string& png() {
  static const std::string p = make_test_pattern_png(40, 30, 3);
  return p;
}

json body_with(const json& extra = json::object()) {
  json b = {{"model", "tiny"},
            {"messages",
             {{{"role", "user"},
               {"content",
                {{{"type", "text"}, {"text", "What is in this picture?"}},
                 {{"type", "image_url"},
                  {"image_url", {{"url", "data:image/png;base64," + b64(png())}}}}}}}}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b;
}

std::optional<ApiError> parse(const json& body, ChatRequest* out, const EdgeLimits& lim = {}) {
  return parse_chat_request(body.dump(), lim, out);
}

ApiError parse_error(const json& body, const EdgeLimits& lim = {}) {
  ChatRequest r;
  auto e = parse(body, &r, lim);
  REQUIRE(e.has_value());
  return *e;
}

}  // namespace

TEST_CASE("openai: base64 and JSON depth") {
  std::string out;
  const std::vector<std::string> samples = {"",    "a",    "ab",
                                            "abc", "abcd", std::string("\x00\xff\x10", 3)};
  for (const std::string& s : samples) {
    REQUIRE(base64_decode(b64(s), &out));
    CHECK(out == s);
  }
  CHECK(base64_decode("YWJj", &out));
  CHECK(out == "abc");
  CHECK(base64_decode("YWI", &out));  // padding optional
  CHECK(out == "ab");
  CHECK_FALSE(base64_decode("YW J", &out));
  CHECK_FALSE(base64_decode("YWJ*", &out));
  CHECK_FALSE(base64_decode("Y", &out));
  CHECK(json_depth(R"({"a": [1, {"b": "[[[["}]})", 64) == 3);
  CHECK(json_depth(std::string(100, '['), 64) == 65);  // stops counting past the limit
}

TEST_CASE("openai: a chat request becomes the shirg.v1 request") {
  ChatRequest r;
  const json extra = {{"max_tokens", 24},
                      {"temperature", 0.5},
                      {"seed", 7},
                      {"stream", true},
                      {"stream_options", {{"include_usage", true}}},
                      {"mode", "full-672"},
                      {"k", 512},
                      {"steps", 12},
                      {"block_length", 8},
                      {"remasking", "random"},
                      {"schedule", "shift"},
                      {"shift", 0.5},
                      {"timeout_ms", 1500},
                      {"n", 1},
                      {"top_p", 1},
                      {"user", "u1"}};
  json body = body_with(extra);
  body["messages"][0]["name"] = "alice";                              // accepted, ignored
  body["messages"][0]["content"][1]["image_url"]["detail"] = "high";  // accepted, ignored
  REQUIRE_FALSE(parse(body, &r).has_value());
  CHECK(r.proto.image() == png());
  CHECK(r.proto.question() == "What is in this picture?");
  CHECK(r.model == "tiny");
  CHECK(r.stream);
  CHECK(r.include_usage);
  CHECK(r.timeout_ms == 1500);
  const auto& g = r.proto.generation();
  CHECK(g.gen_length() == 24);
  CHECK(g.temperature() == 0.5);
  CHECK(g.seed() == 7);
  CHECK(g.steps() == 12);
  CHECK(g.block_length() == 8);
  CHECK(g.remasking() == v1::REMASKING_RANDOM);
  CHECK(g.schedule() == v1::SCHEDULE_SHIFT);
  CHECK(g.shift() == 0.5);
  CHECK(r.proto.selection().mode() == v1::SELECTION_MODE_FULL_672);
  CHECK(r.proto.selection().k() == 512);
  CHECK(r.image_param == "messages[0].content[1].image_url.url");
  CHECK(r.text_param == "messages[0].content[0].text");

  // The same validation as gRPC: the native request has the options.
  GenerateRequest native;
  REQUIRE(from_proto(r.proto, EdgeLimits{}, &native).ok());
  CHECK(native.generation.gen_length == 24);
  CHECK(native.selection.mode == SelectionMode::kFull672);

  // Unset options stay unset (server defaults), as with gRPC.
  ChatRequest d;
  REQUIRE_FALSE(parse(body_with(), &d).has_value());
  CHECK_FALSE(d.proto.generation().has_gen_length());
  CHECK_FALSE(d.proto.generation().has_seed());
  CHECK_FALSE(d.stream);
  // max_completion_tokens is max_tokens; image_url as a plain string works too.
  json b = body_with({{"max_completion_tokens", 5}});
  b["messages"][0]["content"][1]["image_url"] = "data:image/jpeg;base64," + b64(png());
  REQUIRE_FALSE(parse(b, &d).has_value());
  CHECK(d.proto.generation().gen_length() == 5);
  REQUIRE_FALSE(parse(body_with({{"remasking", "low-confidence"}}), &d).has_value());
  CHECK(d.proto.generation().remasking() == v1::REMASKING_LOW_CONFIDENCE);
  // LaViDa's per-block step controls.
  REQUIRE_FALSE(
      parse(body_with({{"max_tokens", 8}, {"block_length", 4}, {"steps_per_block", 3}}), &d)
          .has_value());
  CHECK(d.proto.generation().steps_per_block() == 3);
  REQUIRE(from_proto(d.proto, EdgeLimits{}, &native).ok());
  CHECK(native.generation.steps_per_block == 3);
  REQUIRE_FALSE(parse(body_with({{"step_ratio", 0.5}}), &d).has_value());
  CHECK(d.proto.generation().step_ratio() == 0.5);
  // Two text parts are joined with a newline.
  json two = body_with();
  two["messages"][0]["content"].push_back({{"type", "text"}, {"text", "Answer briefly."}});
  REQUIRE_FALSE(parse(two, &d).has_value());
  CHECK(d.proto.question() == "What is in this picture?\nAnswer briefly.");
}

TEST_CASE("openai: malformed and unsupported requests are 400 with the field named") {
  struct Case {
    json body;
    std::string param;
    std::string says;
  };
  json http_url = body_with();
  http_url["messages"][0]["content"][1]["image_url"]["url"] = "https://example.com/cat.png";
  json no_image = body_with();
  no_image["messages"][0]["content"].erase(1);
  json string_content = body_with();
  string_content["messages"][0]["content"] = "hello";
  json system = body_with();
  system["messages"].insert(system["messages"].begin(),
                            json{{"role", "system"}, {"content", "be brief"}});
  json two_images = body_with();
  two_images["messages"][0]["content"].push_back(two_images["messages"][0]["content"][1]);
  json bad_b64 = body_with();
  bad_b64["messages"][0]["content"][1]["image_url"]["url"] = "data:image/png;base64,@@@@";
  json gif = body_with();
  gif["messages"][0]["content"][1]["image_url"]["url"] = "data:image/gif;base64,R0lG";
  json no_messages = body_with();
  no_messages.erase("messages");
  json message_key = body_with();
  message_key["messages"][0]["contents"] = "typo";
  json part_key = body_with();
  part_key["messages"][0]["content"][0]["txt"] = "typo";
  json image_key = body_with();
  image_key["messages"][0]["content"][1]["image_url"]["uri"] = "typo";
  json image_part_key = body_with();
  image_part_key["messages"][0]["content"][1]["text"] = "not here";
  const std::vector<Case> cases = {
      {message_key, "messages[0].contents", "unknown field 'contents' in messages[0]"},
      {part_key, "messages[0].content[0].txt", "unknown field 'txt' in messages[0].content[0]"},
      {image_key, "messages[0].content[1].image_url.uri", "unknown field 'uri'"},
      {image_part_key, "messages[0].content[1].text", "unknown field 'text'"},
      {http_url, "messages[0].content[1].image_url.url", "not fetched"},
      {no_image, "messages[0].content", "image_url part"},
      {string_content, "messages[0].content", "image_url part"},
      {system, "messages", "exactly one user message"},
      {two_images, "messages[0].content[2]", "one image"},
      {bad_b64, "messages[0].content[1].image_url.url", "not valid base64"},
      {gif, "messages[0].content[1].image_url.url", "image/png or image/jpeg"},
      {no_messages, "messages", "messages is required"},
      {body_with({{"n", 2}}), "n", "n must be 1"},
      {body_with({{"max_tokens", "16"}}), "max_tokens", "must be an integer"},
      {body_with({{"max_tokens", 1.5}}), "max_tokens", "must be an integer"},
      {body_with({{"temperature", "hot"}}), "temperature", "must be a number"},
      {body_with({{"seed", -1}}), "seed", "seed must be in"},
      {body_with({{"stream", "yes"}}), "stream", "true or false"},
      {body_with({{"mode", "fancy"}}), "mode", "mode must be one of shirg, baseline-384"},
      {body_with({{"remasking", "best"}}), "remasking", "low_confidence, random"},
      {body_with({{"schedule", "cosine"}}), "schedule", "uniform or shift"},
      {body_with({{"top_p", 0.9}}), "top_p", "not supported"},
      {body_with({{"stop", {"\n"}}}), "stop", "not supported"},
      {body_with({{"tools", json::array({json::object()})}}), "tools", "not supported"},
      {body_with({{"block-length", 4}}), "block-length", "unknown field 'block-length'"},
      {body_with({{"timeout_ms", 0}}), "timeout_ms", "timeout_ms must be in [1, "},
      {body_with({{"stream_options", {{"include_usage", true}}}}), "stream_options",
       "only allowed with stream: true"},
  };
  for (const auto& c : cases) {
    INFO(c.body.dump().substr(0, 300));
    const ApiError e = parse_error(c.body);
    CHECK(e.http_status == 400);
    CHECK(e.status == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(e.code == "invalid_argument");
    CHECK(e.param == c.param);
    CHECK_THAT(e.message, ContainsSubstring(c.says));
  }
  ChatRequest r;
  auto not_json = parse_chat_request("{\"messages\": [", EdgeLimits{}, &r);
  REQUIRE(not_json);
  CHECK(not_json->http_status == 400);
  CHECK_THAT(not_json->message, ContainsSubstring("not valid JSON"));
  auto deep = parse_chat_request(std::string(10000, '[') + std::string(10000, ']'), {}, &r);
  REQUIRE(deep);
  CHECK_THAT(deep->message, ContainsSubstring("nests deeper than 64"));
  auto array = parse_chat_request("[]", {}, &r);
  REQUIRE(array);
  CHECK_THAT(array->message, ContainsSubstring("must be a JSON object"));
}

TEST_CASE("openai: an image over --max-image-mib is 413") {
  EdgeLimits lim;
  lim.max_image_bytes = 100;
  const ApiError e = parse_error(body_with(), lim);
  CHECK(e.http_status == 413);
  CHECK(e.param == "messages[0].content[1].image_url.url");
  CHECK_THAT(e.message, ContainsSubstring("the limit is 100"));
}

TEST_CASE("openai: edge validation errors name this API's fields") {
  auto check = [](const json& extra, const std::string& param, const std::string& says) {
    ChatRequest r;
    REQUIRE_FALSE(parse(body_with(extra), &r).has_value());
    GenerateRequest native;
    EdgeLimits lim;
    lim.max_gen_length = 64;
    const Status s = from_proto(r.proto, lim, &native);
    REQUIRE_FALSE(s.ok());
    const ApiError e = edge_error(s, r);
    INFO(e.message);
    CHECK(e.http_status == 400);
    CHECK(e.param == param);
    CHECK_THAT(e.message, ContainsSubstring(says));
  };
  check({{"max_tokens", 65}}, "max_tokens", "max_tokens must be in [1, 64], got 65");
  check({{"max_tokens", 0}}, "max_tokens", "max_tokens must be in [1, 64], got 0");
  check({{"k", 5000}}, "k", "k must be in [1, 2304], got 5000");
  check({{"temperature", 101}}, "temperature", "temperature must be in [0, 100]");
  check({{"max_tokens", 16}, {"block_length", 5}}, "block_length", "must divide gen_length");
  // Question and image errors point at the message part.
  json empty_q = body_with();
  empty_q["messages"][0]["content"][0]["text"] = "  ";
  ChatRequest r;
  REQUIRE_FALSE(parse(empty_q, &r).has_value());
  GenerateRequest native;
  const Status s = from_proto(r.proto, EdgeLimits{}, &native);
  REQUIRE_FALSE(s.ok());
  CHECK(edge_error(s, r).param == "messages[0].content[0].text");
  json not_png = body_with();
  not_png["messages"][0]["content"][1]["image_url"]["url"] =
      "data:image/png;base64," + b64("GIF89a....");
  REQUIRE_FALSE(parse(not_png, &r).has_value());
  const Status s2 = from_proto(r.proto, EdgeLimits{}, &native);
  REQUIRE_FALSE(s2.ok());
  CHECK(edge_error(s2, r).param == "messages[0].content[1].image_url.url");
  CHECK_THAT(edge_error(s2, r).message, ContainsSubstring("neither JPEG nor PNG"));
}

TEST_CASE("openai: status mapping and the error shape") {
  using C = grpc::StatusCode;
  CHECK(http_status_of(C::INVALID_ARGUMENT) == 400);
  CHECK(http_status_of(C::UNAUTHENTICATED) == 401);
  CHECK(http_status_of(C::NOT_FOUND) == 404);
  CHECK(http_status_of(C::RESOURCE_EXHAUSTED) == 429);
  CHECK(http_status_of(C::UNAVAILABLE) == 503);
  CHECK(http_status_of(C::DEADLINE_EXCEEDED) == 504);
  CHECK(http_status_of(C::CANCELLED) == 499);
  CHECK(http_status_of(C::INTERNAL) == 500);
  const ApiError e = api_error(grpc::Status(C::RESOURCE_EXHAUSTED, "queue full"), "");
  const json j = json::parse(error_body(e));
  CHECK(j.size() == 1);
  CHECK(j["error"]["message"] == "queue full");
  CHECK(j["error"]["type"] == "rate_limit_error");
  CHECK(j["error"]["code"] == "resource_exhausted");
  CHECK(j["error"]["param"].is_null());
  const json k = json::parse(error_body(invalid_request("bad", "max_tokens")));
  CHECK(k["error"]["param"] == "max_tokens");
  CHECK(k["error"]["type"] == "invalid_request_error");
  CHECK(std::string(error_type_of(401)) == "authentication_error");
  for (int transport : {400, 404, 405, 408, 411, 413, 414, 415, 417, 431, 501, 505})
    CHECK(std::string(error_type_of(transport)) == "invalid_request_error");
  CHECK(std::string(error_type_of(429)) == "rate_limit_error");
  CHECK(std::string(error_type_of(500)) == "server_error");
  CHECK(std::string(error_type_of(504)) == "timeout_error");
  CHECK(std::string(error_type_of(503)) == "server_error");
}

TEST_CASE("openai: response bodies") {
  CompletionIds ids{"chatcmpl-req-1", 1700000000, "tiny", "req-1"};
  GenerateResult r;
  r.answer = "a cat";
  r.answer_ids = {5, 6, 7};
  r.prefix_tokens = 100;
  r.stop_reason = StopReason::kStopToken;
  r.steps_run = 8;
  r.selection.visual_tokens = 80;
  const json c = json::parse(completion_json(ids, r));
  CHECK(c["id"] == "chatcmpl-req-1");
  CHECK(c["object"] == "chat.completion");
  CHECK(c["created"] == 1700000000);
  CHECK(c["model"] == "tiny");
  CHECK(c["choices"].size() == 1);
  CHECK(c["choices"][0]["index"] == 0);
  CHECK(c["choices"][0]["message"]["role"] == "assistant");
  CHECK(c["choices"][0]["message"]["content"] == "a cat");
  CHECK(c["choices"][0]["finish_reason"] == "stop");
  CHECK(c["usage"]["prompt_tokens"] == 100);
  CHECK(c["usage"]["completion_tokens"] == 3);
  CHECK(c["usage"]["total_tokens"] == 103);
  CHECK(c["shirg"]["visual_tokens"] == 80);
  CHECK(c["shirg"]["steps"] == 8);
  r.stop_reason = StopReason::kLength;
  CHECK(json::parse(completion_json(ids, r))["choices"][0]["finish_reason"] == "length");

  StepEvent e{3, 8, "a ░░", 1};
  const json ch = json::parse(chunk_json(ids, std::string("a "), true, nullptr, &e));
  CHECK(ch["object"] == "chat.completion.chunk");
  CHECK(ch["choices"][0]["delta"]["role"] == "assistant");
  CHECK(ch["choices"][0]["delta"]["content"] == "a ");
  CHECK(ch["choices"][0]["finish_reason"].is_null());
  CHECK(ch["shirg"]["step"] == 3);
  CHECK(ch["shirg"]["total_steps"] == 8);
  const json last = json::parse(chunk_json(ids, std::string("cat"), false, "stop", nullptr));
  CHECK_FALSE(last["choices"][0]["delta"].contains("role"));
  CHECK(last["choices"][0]["finish_reason"] == "stop");
  const json u = json::parse(usage_chunk_json(ids, r));
  CHECK(u["choices"].empty());
  CHECK(u["usage"]["total_tokens"] == 103);
  CHECK(sse_event("{}") == "data: {}\n\n");
  // Invalid UTF-8 in an answer does not throw.
  r.answer = "bad \xff byte";
  CHECK_NOTHROW(completion_json(ids, r));

  const json m = json::parse(models_json("tiny", 5));
  CHECK(m["object"] == "list");
  CHECK(m["data"][0]["id"] == "tiny");
  CHECK(m["data"][0]["object"] == "model");
}

TEST_CASE("openai: streamed text is the growing committed prefix") {
  CHECK(StreamText::stable_prefix("He░░o") == "He");
  CHECK(StreamText::stable_prefix("!!Hi░") == "Hi");
  CHECK(StreamText::stable_prefix("!!!░") == "");
  CHECK(StreamText::stable_prefix("done") == "done");
  CHECK(StreamText::stable_prefix("caf\xEF\xBF\xBD░") == "caf");  // half a character held back

  StreamText t;
  CHECK(t.next("░░░░") == "");
  CHECK(t.next("░a░░") == "");  // committed, but not at the front yet
  CHECK(t.next("Hi░░") == "Hi");
  CHECK(t.next("Hi░░") == "");
  CHECK(t.next("Hi t░") == " t");
  const auto rest = t.finish("Hi there");
  REQUIRE(rest);
  CHECK(*rest == "here");
  CHECK(t.sent() == "Hi there");

  StreamText u;
  CHECK(u.next("Ab░") == "Ab");
  CHECK_FALSE(u.finish("Xy").has_value());  // the final text does not extend what was sent
}

TEST_CASE("openai: --http-port is off by default and must not collide with the other ports") {
  CHECK(parse_server_args({"--model-dir", "/m"}).config.http_port == -1);
  CHECK(parse_server_args({"--model-dir", "/m", "--http-port", "8000"}).config.http_port == 8000);
  CHECK(parse_server_args({"--model-dir", "/m", "--http-port=0", "--port", "0"}).config.http_port ==
        0);
  auto error_of = [](const std::vector<std::string>& args) {
    try {
      parse_server_args(args);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of({"--model-dir", "/m", "--http-port", "50051"}),
             ContainsSubstring("--http-port must differ from --port and --metrics-port"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--http-port", "9400"}),
             ContainsSubstring("--http-port must differ"));
  CHECK_THAT(error_of({"--model-dir", "/m", "--http-port", "-2"}),
             ContainsSubstring("--http-port must be in [-1, 65535]"));
}
