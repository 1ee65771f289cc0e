// The OpenAI-compatible HTTP API of a real shirg-server (tiny model), driven by the official
// `openai` npm client (tools/npm/openai_check.js) and by curl: the same answers as the gRPC API
// for the same image, question and seed; one SSE chunk per denoising step; every error status
// in OpenAI's error shape; a client disconnect cancels the request; TLS, token, metrics.
// Needs node and tools/npm/node_modules/openai (scripts/install-npm-refs.sh): FAILS without them.
#include <signal.h>
#include <unistd.h>
#include "tests/common/catch.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server/test_pattern.h"
#include "tests/server/integration_common.h"

using namespace shirg;
using namespace shirg::testing;
using Catch::Matchers::ContainsSubstring;
using json = nlohmann::json;

namespace {

const std::string kQuestion = "Which colours are in the picture?";

std::string npm_dir() {
  return std::string(SHIRG_SOURCE_DIR) + "/tools/npm";
}

void require_openai_sdk() {
  REQUIRE(std::system("node --version > /dev/null 2>&1") == 0);
  std::ifstream pkg(npm_dir() + "/node_modules/openai/package.json");
  INFO("the openai npm package is missing: run scripts/install-npm-refs.sh");
  REQUIRE(pkg.good());
}

std::string base_url(const ServerProcess& s, const char* scheme = "http",
                     const char* host = "127.0.0.1") {
  return std::string(scheme) + "://" + host + ":" + std::to_string(s.http_port()) + "/v1";
}

// Runs tools/npm/openai_check.js with `spec` (plus base_url, image, question defaults).
json sdk(const ServerProcess& s, json spec, const std::string& env = "") {
  if (!spec.contains("base_url")) spec["base_url"] = base_url(s);
  if (!spec.contains("question")) spec["question"] = kQuestion;
  if (!spec.contains("model")) spec["model"] = "tiny";
  static int n = 0;
  const std::string path =
      write_temp_file(s.dir(), "sdk_spec_" + std::to_string(n++) + ".json", spec.dump());
  std::string out;
  const int rc =
      run_command(env + " node " + npm_dir() + "/openai_check.js " + path + " 2>&1", &out);
  INFO("openai_check.js (" << spec["scenario"] << ") said: " << out);
  REQUIRE(rc == 0);
  // The result is the last line (node may print warnings before it).
  std::string line;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) line = l;
  return json::parse(line);
}

// The chat request body curl sends.
json chat_body(const std::string& image, const json& extra) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  std::size_t i = 0;
  for (; i + 2 < image.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(image[i]) << 16) |
                       (static_cast<uint8_t>(image[i + 1]) << 8) |
                       static_cast<uint8_t>(image[i + 2]);
    for (int sh = 18; sh >= 0; sh -= 6) b64 += a[(v >> sh) & 63];
  }
  if (i < image.size()) {
    const uint32_t v = (static_cast<uint8_t>(image[i]) << 16) |
                       (i + 1 < image.size() ? static_cast<uint8_t>(image[i + 1]) << 8 : 0);
    b64 += a[(v >> 18) & 63];
    b64 += a[(v >> 12) & 63];
    b64 += i + 1 < image.size() ? a[(v >> 6) & 63] : '=';
    b64 += '=';
  }
  json b = {
      {"model", "tiny"},
      {"messages",
       {{{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", kQuestion}},
           {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64," + b64}}}}}}}}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b;
}

// curl POST /v1/chat/completions; returns the body (with "-w" status appended on its own line).
std::string curl_chat(const ServerProcess& s, const json& body, const std::string& flags = "",
                      int* status = nullptr) {
  static int n = 0;
  const std::string path =
      write_temp_file(s.dir(), "curl_body_" + std::to_string(n++) + ".json", body.dump());
  std::string out;
  run_command("curl -sS -N " + flags +
                  " -w '\\n%{http_code}' -H 'Content-Type: application/json' "
                  "--data-binary @" +
                  path + " " + base_url(s) + "/chat/completions",
              &out);
  const std::size_t nl = out.rfind('\n');
  if (status) *status = nl == std::string::npos ? 0 : std::atoi(out.c_str() + nl + 1);
  return nl == std::string::npos ? out : out.substr(0, nl);
}

// The `data:` payloads of an SSE body.
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
  return out;
}

double http_requests(const PromText& m, const std::string& rpc, const std::string& code) {
  return m.sum("shirg_requests_total", {{"rpc", rpc}, {"code", code}, {"protocol", "http"}});
}

double steps_run(const ServerProcess& s) {
  return scrape(s).sum("shirg_stage_duration_seconds_count", {{"stage", "step"}});
}

bool drained(const ServerProcess& s) {
  return eventually([&] { return scrape(s).sum("shirg_inflight_requests") == 0; },
                    std::chrono::seconds(30));
}

// An OpenAI error body: {"error": {"message", "type", "param", "code"}} and nothing else.
void check_error_shape(const json& j, const std::string& type, const std::string& code) {
  INFO(j.dump());
  REQUIRE(j.is_object());
  CHECK(j.size() == 1);
  REQUIRE(j.contains("error"));
  const json& e = j["error"];
  CHECK(e["message"].is_string());
  CHECK_FALSE(e["message"].get<std::string>().empty());
  CHECK(e["type"] == type);
  CHECK(e["code"] == code);
  CHECK(e.contains("param"));
}

// openai_check.js "error" result: the SDK raised APIError with this status and body.
void check_sdk_error(const json& r, int status, const std::string& type, const std::string& code,
                     const std::string& says) {
  INFO(r.dump());
  CHECK(r["status"] == status);
  check_error_shape(json{{"error", r["error"]}}, type, code);
  CHECK(r["code"] == code);  // the SDK exposes error.code / error.type
  CHECK(r["type"] == type);
  CHECK_THAT(r["error"]["message"].get<std::string>(), ContainsSubstring(says));
}

}  // namespace

TEST_CASE("openai: SDK and curl answers equal the gRPC API's and streams send one chunk per step") {
  require_openai_sdk();
  ServerProcess server(ServerLaunch{{"--http-port", "0"}});
  REQUIRE(server.http_port() > 0);
  auto ch = server.channel();
  const v1::GenerateRequest req = make_request(3, 11, 24, 12, kQuestion);
  const std::string image = write_temp_file(server.dir(), "image.png", req.image());
  const UnaryResult g = generate(*ch, req);
  REQUIRE(g.status.ok());
  const auto& want = g.response;
  const std::string want_finish =
      want.stop_reason() == v1::STOP_REASON_STOP_TOKEN ? "stop" : "length";
  const json opts = {{"max_tokens", 24}, {"steps", 12}, {"seed", 11}};

  {  // openai SDK, non-streaming
    const json r = sdk(server, {{"scenario", "chat"}, {"image", image}, {"body", opts}});
    INFO(r.dump());
    CHECK(r["content"] == want.answer());
    CHECK(r["role"] == "assistant");
    CHECK(r["choices"] == 1);
    CHECK(r["finish_reason"] == want_finish);
    CHECK(r["object"] == "chat.completion");
    CHECK(r["model"] == "tiny");
    CHECK(r["usage"]["prompt_tokens"] == want.prefix_tokens());
    CHECK(r["usage"]["completion_tokens"] == want.answer_tokens());
    CHECK(r["usage"]["total_tokens"] == want.prefix_tokens() + want.answer_tokens());
    CHECK(r["shirg"]["visual_tokens"] == want.selection().visual_tokens());
    CHECK(r["id"] == "chatcmpl-" + r["request_id"].get<std::string>());
  }
  {  // openai SDK, streaming: one chunk per step (1..12), then the final chunk and usage
    const json r = sdk(server, {{"scenario", "stream"}, {"image", image}, {"body", opts}});
    INFO(r.dump());
    CHECK(r["content"] == want.answer());
    CHECK(r["object"] == "chat.completion.chunk");
    std::vector<int> expect_steps;
    for (int i = 1; i <= want.steps(); ++i) expect_steps.push_back(i);
    CHECK(r["steps"].get<std::vector<int>>() == expect_steps);
    CHECK(r["chunks"] == want.steps() + 2);  // steps + final chunk + usage chunk
    CHECK(r["role_first"] == "assistant");
    CHECK(r["finish_reason"] == want_finish);
    CHECK(r["finish_chunks"] == 1);
    CHECK(r["usage"]["prompt_tokens"] == want.prefix_tokens());
    CHECK(r["usage"]["completion_tokens"] == want.answer_tokens());
  }
  {  // curl, non-streaming and streaming
    int status = 0;
    const json r = json::parse(curl_chat(server, chat_body(req.image(), opts), "", &status));
    CHECK(status == 200);
    CHECK(r["choices"][0]["message"]["content"] == want.answer());
    const std::string body = curl_chat(
        server,
        chat_body(req.image(), {{"max_tokens", 24}, {"steps", 12}, {"seed", 11}, {"stream", true}}),
        "", &status);
    CHECK(status == 200);
    const auto events = sse_data(body);
    REQUIRE(events.size() == static_cast<std::size_t>(want.steps()) + 2);  // + final + [DONE]
    CHECK(events.back() == "[DONE]");
    std::string text;
    for (std::size_t i = 0; i + 1 < events.size(); ++i) {
      const json c = json::parse(events[i]);
      if (c["choices"][0]["delta"].contains("content"))
        text += c["choices"][0]["delta"]["content"].get<std::string>();
      if (i < static_cast<std::size_t>(want.steps())) CHECK(c["shirg"]["step"] == i + 1);
    }
    CHECK(text == want.answer());
    CHECK(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"] == want_finish);
  }
  {  // our extra fields: the same options through gRPC and the SDK give the same answer
    v1::GenerateRequest alt = req;
    alt.mutable_selection()->set_mode(v1::SELECTION_MODE_BASELINE_384);
    alt.mutable_generation()->set_temperature(0.9);
    alt.mutable_generation()->set_seed(5);
    alt.mutable_generation()->set_remasking(v1::REMASKING_RANDOM);
    alt.mutable_generation()->set_block_length(8);
    const UnaryResult ga = generate(*ch, alt);
    REQUIRE(ga.status.ok());
    const json r = sdk(server, {{"scenario", "chat"},
                                {"image", image},
                                {"body",
                                 {{"max_tokens", 24},
                                  {"steps", 12},
                                  {"seed", 5},
                                  {"temperature", 0.9},
                                  {"mode", "baseline-384"},
                                  {"remasking", "random"},
                                  {"block_length", 8}}}});
    CHECK(r["content"] == ga.response.answer());
    CHECK(r["usage"]["prompt_tokens"] == ga.response.prefix_tokens());
    CHECK(r["shirg"]["visual_tokens"] == 729);  // baseline-384
  }
  {  // GET /v1/models through the SDK
    const json r = sdk(server, {{"scenario", "models"}});
    CHECK(r["ids"] == json::array({"tiny"}));
    CHECK(r["objects"] == json::array({"model"}));
  }
  const PromText m = scrape(server);
  CHECK(http_requests(m, "ChatCompletions", "OK") == 5);  // SDK x3, curl x2
  CHECK(http_requests(m, "Models", "OK") == 1);
  CHECK(m.sum("shirg_requests_total", {{"rpc", "Generate"}, {"protocol", "grpc"}}) == 2);
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("openai: every error status in OpenAI's error shape (SDK and curl)") {
  require_openai_sdk();
  ServerProcess server(ServerLaunch{{"--http-port", "0", "--auth-token", "tok3n", "--workers", "1",
                                     "--max-batch", "1", "--max-queue", "1", "--max-receive-mib",
                                     "1", "--max-image-mib", "1", "--max-gen-length", "256"}});
  auto ch = server.channel();
  const v1::GenerateRequest quick = quick_request(1);
  const std::string image = write_temp_file(server.dir(), "image.png", quick.image());
  const json ok_opts = {{"max_tokens", 16}, {"steps", 8}};
  auto err = [&](json spec) {
    spec["scenario"] = "error";
    if (!spec.contains("image")) spec["image"] = image;
    if (!spec.contains("api_key")) spec["api_key"] = "tok3n";
    return sdk(server, spec);
  };

  // 401: wrong token (SDK), no token (curl).
  check_sdk_error(err({{"api_key", "wrong"}, {"body", ok_opts}}), 401, "authentication_error",
                  "unauthenticated", "invalid bearer token");
  int status = 0;
  std::string body = curl_chat(server, chat_body(quick.image(), ok_opts), "", &status);
  CHECK(status == 401);
  check_error_shape(json::parse(body), "authentication_error", "unauthenticated");
  CHECK_THAT(body, ContainsSubstring("Authorization: Bearer"));
  const std::string auth = "-H 'Authorization: Bearer tok3n'";

  // 400: an option out of range, an http image URL, our extra field out of range, bad JSON.
  json r = err({{"body", {{"max_tokens", 5000}}}});
  check_sdk_error(r, 400, "invalid_request_error", "invalid_argument",
                  "max_tokens must be in [1, 256], got 5000");
  CHECK(r["param"] == "max_tokens");
  r = err({{"body", {{"k", 0}}}});
  check_sdk_error(r, 400, "invalid_request_error", "invalid_argument", "k must be in [1, 2304]");
  r = err({{"body", {{"mode", "fancy"}, {"stream", true}}}});
  check_sdk_error(r, 400, "invalid_request_error", "invalid_argument", "mode must be one of");
  body = curl_chat(server, json::parse(R"({"model":"tiny","messages":[{"role":"user","content":[
      {"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x.org/a.png"}}]}]})"),
                   auth, &status);
  CHECK(status == 400);
  check_error_shape(json::parse(body), "invalid_request_error", "invalid_argument");
  CHECK_THAT(body, ContainsSubstring("not fetched"));
  {
    const std::string path = write_temp_file(server.dir(), "bad.json", "{\"messages\": [");
    std::string out;
    run_command("curl -sS -w '\\n%{http_code}' " + auth +
                    " -H 'Content-Type: application/json' --data-binary @" + path + " " +
                    base_url(server) + "/chat/completions",
                &out);
    CHECK(out.substr(out.rfind('\n') + 1) == "400");
    check_error_shape(json::parse(out.substr(0, out.rfind('\n'))), "invalid_request_error",
                      "invalid_argument");
    // Without the JSON content type (curl -d sends a form): 415, with a hint.
    run_command("curl -sS -w '\\n%{http_code}' " + auth + " --data-binary @" + path + " " +
                    base_url(server) + "/chat/completions",
                &out);
    CHECK(out.substr(out.rfind('\n') + 1) == "415");
    check_error_shape(json::parse(out.substr(0, out.rfind('\n'))), "invalid_request_error",
                      "unsupported_media_type");
    CHECK_THAT(out, ContainsSubstring("Content-Type: application/json"));
  }
  // An image the engine cannot decode (valid PNG magic, broken data) is a 400 before streaming.
  {
    std::string broken = quick.image().substr(0, 60);
    const std::string bpath = write_temp_file(server.dir(), "broken.png", broken);
    r = err({{"image", bpath}, {"body", {{"stream", true}}}});
    check_sdk_error(r, 400, "invalid_request_error", "invalid_argument", "image");
    CHECK(r["param"] == "messages[0].content[1].image_url.url");  // found by the engine, too
  }

  // 404: a model this server does not serve; an unknown path.
  check_sdk_error(err({{"model", "gpt-4o"}, {"body", ok_opts}}), 404, "invalid_request_error",
                  "not_found", "is not served here");
  {
    std::string out;
    run_command("curl -sS -w '\\n%{http_code}' " + auth + " " + base_url(server) + "/embeddings",
                &out);
    CHECK(out.substr(out.rfind('\n') + 1) == "404");
    check_error_shape(json::parse(out.substr(0, out.rfind('\n'))), "invalid_request_error",
                      "not_found");
  }

  // 413: a body over --max-receive-mib (base64 allowance included); an image over --max-image-mib.
  {
    const std::string big_question(1500000, 'a');
    check_sdk_error(err({{"question", big_question}, {"body", ok_opts}}), 413,
                    "invalid_request_error", "payload_too_large", "request body is larger");
    std::string fake_png = quick.image().substr(0, 8) + std::string((1 << 20) + 1000, '\0');
    body = curl_chat(server, chat_body(fake_png, ok_opts), auth, &status);
    CHECK(status == 413);
    check_error_shape(json::parse(body), "invalid_request_error", "invalid_argument");
    CHECK_THAT(body, ContainsSubstring("the limit is 1048576"));
  }

  // 429: the queue is full (A running, B queued, both over gRPC).
  {
    std::promise<void> a_running, b_queued, release;
    auto release_f = release.get_future().share();
    auto hold = [&](std::promise<void>* signal, bool on_step) {
      return [=, signalled = false](const v1::GenerateEvent& ev) mutable {
        if (!signalled && ((on_step && ev.has_step()) || (!on_step && ev.has_queued()))) {
          signal->set_value();
          signalled = true;
        }
        return !(signalled &&
                 release_f.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
      };
    };
    const CallOptions tok{std::nullopt, "tok3n"};
    auto a = std::async(std::launch::async, [&] {
      return generate_stream(*ch, slow_request(1), tok, hold(&a_running, true));
    });
    REQUIRE(a_running.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    auto b = std::async(std::launch::async, [&] {
      return generate_stream(*ch, slow_request(2), tok, hold(&b_queued, false));
    });
    REQUIRE(b_queued.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    r = err({{"body", ok_opts}});
    check_sdk_error(r, 429, "rate_limit_error", "resource_exhausted", "queue is full");
    CHECK(r["retry_after"] == "1");
    check_sdk_error(err({{"body", {{"stream", true}}}}), 429, "rate_limit_error",
                    "resource_exhausted", "queue is full");
    release.set_value();
    a.get();
    b.get();
    REQUIRE(drained(server));
  }

  // 504: timeout_ms passes mid-generation (non-streaming: the status; streaming: an SSE error
  // event after some steps, which the SDK raises as APIError).
  {
    const json slow = {{"max_tokens", 256}, {"steps", 256}, {"timeout_ms", 1500}};
    check_sdk_error(err({{"body", slow}}), 504, "timeout_error", "deadline_exceeded",
                    "deadline exceeded");
    json s = slow;
    s["stream"] = true;
    r = err({{"body", s}});
    INFO(r.dump());
    CHECK(r["error"]["code"] == "deadline_exceeded");
    CHECK(r["error"]["type"] == "timeout_error");
    REQUIRE(drained(server));
  }

  const PromText m = scrape(server);
  CHECK(http_requests(m, "ChatCompletions", "UNAUTHENTICATED") == 2);
  CHECK(http_requests(m, "ChatCompletions", "RESOURCE_EXHAUSTED") == 3);  // 413 body + 2x 429
  CHECK(http_requests(m, "ChatCompletions", "DEADLINE_EXCEEDED") == 2);
  CHECK(http_requests(m, "ChatCompletions", "NOT_FOUND") == 1);

  // 503: shutting down. A running request holds the drain open (its client cancels it once the
  // 503 was seen, so the test does not wait for it); new requests are refused meanwhile.
  {
    std::atomic<bool> seen_503{false};
    std::promise<void> running;
    auto inflight = std::async(std::launch::async, [&] {
      bool signalled = false;
      return generate_stream(*ch, slow_request(3), CallOptions{std::nullopt, "tok3n"},
                             [&](const v1::GenerateEvent& ev) {
                               if (ev.has_step() && !signalled) {
                                 running.set_value();
                                 signalled = true;
                               }
                               return !seen_503.load();
                             });
    });
    REQUIRE(running.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    server.send_signal(SIGTERM);
    REQUIRE(eventually([&] { return scrape(server).sum("shirg_ready") == 0; },
                       std::chrono::seconds(30)));
    r = err({{"body", ok_opts}});
    seen_503 = true;
    check_sdk_error(r, 503, "server_error", "unavailable", "shutting down");
    CHECK(r["retry_after"] == "1");
    CHECK(inflight.get().status.error_code() == grpc::StatusCode::CANCELLED);
    CHECK(server.wait_exit(std::chrono::seconds(60)) == std::optional<int>(0));
  }
}

TEST_CASE("openai: a client that disconnects cancels its request within a step") {
  require_openai_sdk();
  ServerProcess server(ServerLaunch{{"--http-port", "0"}});
  const std::string image = write_temp_file(server.dir(), "image.png", quick_request(1).image());
  // Long enough that curl's 2 s limit below always comes first: with the fused attention kernel
  // a 256-step request on the test model finished inside 2 s (measured, session 10).
  const json slow = {{"max_tokens", 1024}, {"steps", 1024}};

  {  // the SDK stops reading a stream after 3 chunks (it aborts the HTTP request)
    const double before = steps_run(server);
    const json r =
        sdk(server, {{"scenario", "abort"}, {"image", image}, {"body", slow}, {"abort_after", 3}});
    CHECK(r["chunks"] == 3);
    REQUIRE(eventually(
        [&] { return http_requests(scrape(server), "ChatCompletions", "CANCELLED") == 1; },
        std::chrono::seconds(30)));
    // Steps that ran after the third: the one running at the disconnect, plus one if the 20 ms
    // connection check came just after a step started (and one of scheduling slack).
    const double extra = steps_run(server) - before - 3;
    INFO("steps after the disconnect: " << extra);
    CHECK(extra <= 3);
  }
  {  // curl gives up on a non-streaming request after 2 s
    const double before = steps_run(server);
    int status = 0;
    curl_chat(server, chat_body(quick_request(1).image(), slow), "--max-time 2", &status);
    REQUIRE(eventually(
        [&] { return http_requests(scrape(server), "ChatCompletions", "CANCELLED") == 2; },
        std::chrono::seconds(30)));
    CHECK(steps_run(server) - before < 1024);  // stopped early
  }
  CHECK(drained(server));
  CHECK(scrape(server).sum("shirg_prefix_cache_bytes") == 0);
  CHECK_THAT(server.log(), ContainsSubstring("client closed the connection"));
  // The server keeps serving.
  const json r =
      sdk(server,
          {{"scenario", "chat"}, {"image", image}, {"body", {{"max_tokens", 8}, {"steps", 4}}}});
  CHECK(r["finish_reason"].is_string());
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE("openai: HTTPS with the gRPC certificate and token and health without the token") {
  require_openai_sdk();
  char tmpl[] = "/tmp/shirg_tls_XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string dir = tmpl;
  REQUIRE(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
                       " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                       dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1")
                          .c_str()) == 0);
  ServerProcess server(ServerLaunch{{"--http-port", "0", "--tls-cert", dir + "/cert.pem",
                                     "--tls-key", dir + "/key.pem", "--auth-token", "tok3n"},
                                    false});
  const std::string https = "https://localhost:" + std::to_string(server.http_port());
  std::string out;
  REQUIRE(eventually(
      [&] {
        return run_command("curl -sS --cacert " + dir + "/cert.pem " + https + "/health", &out) ==
                   0 &&
               out.find("\"serving\"") != std::string::npos;
      },
      std::chrono::seconds(120)));
  const std::string image = write_temp_file(server.dir(), "image.png", quick_request(1).image());
  const std::string env = "NODE_EXTRA_CA_CERTS=" + dir + "/cert.pem";
  const json r = sdk(server,
                     {{"scenario", "chat"},
                      {"base_url", https + "/v1"},
                      {"api_key", "tok3n"},
                      {"image", image},
                      {"body", {{"max_tokens", 8}, {"steps", 4}}}},
                     env);
  CHECK(r["object"] == "chat.completion");
  const json models =
      sdk(server, {{"scenario", "models"}, {"base_url", https + "/v1"}, {"api_key", "tok3n"}}, env);
  CHECK(models["ids"] == json::array({"tiny"}));
  // Plain HTTP to the TLS port fails; an untrusted certificate is refused.
  CHECK(run_command("curl -sS --max-time 5 http://127.0.0.1:" + std::to_string(server.http_port()) +
                        "/health 2>/dev/null",
                    &out) != 0);
  CHECK(run_command("curl -sS --max-time 5 " + https + "/health 2>/dev/null", &out) != 0);
  CHECK(server.terminate() == std::optional<int>(0));
  std::system(("rm -rf '" + dir + "'").c_str());
}
