// The OpenAI HTTP API of a real shirg-server (tiny model) under hostile and odd clients, over
// raw sockets: credentials checked before a body is read, every limit answered at once with
// 413 / 431 / 411 / 415 in OpenAI's error shape, 405 with Allow and 501, gzip bodies, pipelined
// requests, a half-closed client that still gets its answer, log lines a client cannot forge,
// and health, models and 429 answered at once while every inference slot is busy and slow
// clients hold connections. (The transport's own cases, with small limits and timeouts, are in
// tests/server/http/test_http_server.cpp.)
#include <zlib.h>

#include <future>
#include <nlohmann/json.hpp>
#include "tests/common/catch.h"

#include "tests/server/integration_common.h"
#include "tests/server/raw_http.h"

using namespace shirg;
using namespace shirg::testing;
using Catch::Matchers::ContainsSubstring;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kHost = "Host: 127.0.0.1\r\n";
const std::string kAuth = "Authorization: Bearer tok3n\r\n";

std::string chat_json(const json& extra = json::object()) {
  json b = {{"model", "tiny"},
            {"max_tokens", 16},
            {"steps", 8},
            {"seed", 3},
            {"messages",
             {{{"role", "user"},
               {"content",
                {{{"type", "text"}, {"text", "Which colours are in the picture?"}},
                 {{"type", "image_url"},
                  {"image_url",
                   {{"url", "data:image/png;base64," + base64(quick_request(1).image())}}}}}}}}}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b.dump();
}

std::string chat_post(const std::string& body, const std::string& extra_headers = kAuth) {
  return "POST /v1/chat/completions HTTP/1.1\r\n" + kHost + extra_headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// An OpenAI error body with this status, type and code.
void check_error(const std::optional<RawResponse>& r, int status, const std::string& type,
                 const std::string& code) {
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == status);
  CHECK(r->header("Content-Type") == "application/json");
  const json j = json::parse(r->body);
  CHECK(j["error"]["type"] == type);
  CHECK(j["error"]["code"] == code);
  CHECK(j["error"]["message"].is_string());
  CHECK(j["error"].contains("param"));
}

double http_requests(const PromText& m, const std::string& rpc, const std::string& code) {
  return m.sum("shirg_requests_total", {{"rpc", rpc}, {"code", code}, {"protocol", "http"}});
}

}  // namespace

TEST_CASE("openai hostile: limits, credentials before the body, exact HTTP, no forged logs") {
  ServerProcess server(
      ServerLaunch{{"--http-port", "0", "--auth-token", "tok3n", "--max-receive-mib", "1",
                    "--max-image-mib", "1", "--http-max-connections", "32"}});
  const int port = server.http_port();
  const std::string limit = std::to_string((1 << 20) / 3 * 4 + (64 << 10));

  SECTION("credentials are checked before a body byte is read") {
    for (const char* framing : {"Content-Length: 1000000\r\n", "Transfer-Encoding: chunked\r\n"}) {
      RawConn c(port);
      REQUIRE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + kHost +
                     "Content-Type: application/json\r\n" + framing + "\r\n"));
      const auto r = c.read_final(5s);  // nothing of the body was sent
      check_error(r, 401, "authentication_error", "unauthenticated");
      CHECK(c.wait_closed(5s));
    }
  }
  SECTION("bodies over the limit: 413 at once, whatever the framing or coding") {
    RawConn c(port);  // Content-Length: refused from the head
    REQUIRE(c.send("POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
                   "Content-Type: application/json\r\nContent-Length: 400000000\r\n\r\n"));
    auto r = c.read_final(5s);
    check_error(r, 413, "invalid_request_error", "payload_too_large");
    CHECK_THAT(r->body, ContainsSubstring("the limit of " + limit + " bytes"));
    RawConn d(port);  // chunked: refused once the chunks pass the limit
    REQUIRE(d.send("POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
    const std::string chunk = "100000\r\n" + std::string(1 << 20, ' ') + "\r\n";
    for (int i = 0; i < 3 && d.send(chunk); ++i) {
    }
    check_error(d.read_final(5s), 413, "invalid_request_error", "payload_too_large");
    // gzip: 64 MiB of zeros in a few KiB, refused once inflated past the limit.
    const std::string bomb = gzip(std::string(64 << 20, '\0'));
    check_error(raw_request(port,
                            "POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
                                "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
                                "Content-Length: " +
                                std::to_string(bomb.size()) + "\r\n\r\n" + bomb,
                            5s),
                413, "invalid_request_error", "payload_too_large");
    // A header line that never ends: 431 without waiting for it.
    RawConn h(port);
    REQUIRE(h.send("GET /health HTTP/1.1\r\n" + kHost + "X-Long: " + std::string(1 << 20, 'a')));
    check_error(h.read_final(5s), 431, "invalid_request_error", "header_fields_too_large");
    RawConn u(port);
    REQUIRE(u.send("GET /" + std::string(1 << 20, 'a')));
    check_error(u.read_final(5s), 414, "invalid_request_error", "uri_too_long");
    const PromText m = scrape(server);
    CHECK(http_requests(m, "ChatCompletions", "RESOURCE_EXHAUSTED") == 3);
    CHECK(m.sum("shirg_http_refusals_total", {{"status", "413"}}) == 3);
    CHECK(m.sum("shirg_http_refusals_total", {{"status", "431"}}) == 1);
  }
  SECTION("exact HTTP: 405 with Allow, 501, 411, 415, 400, Range ignored") {
    auto req = [&](const std::string& bytes) { return raw_request(port, bytes, 5s); };
    auto r = req("PUT /v1/chat/completions HTTP/1.1\r\n" + kHost + "\r\n");
    check_error(r, 405, "invalid_request_error", "method_not_allowed");
    CHECK(r->header("Allow") == "POST");
    for (const char* m : {"DELETE", "OPTIONS", "POST"}) {
      r = req(std::string(m) + " /v1/models HTTP/1.1\r\n" + kHost + "\r\n");
      check_error(r, 405, "invalid_request_error", "method_not_allowed");
      CHECK(r->header("Allow") == "GET, HEAD");
    }
    check_error(req("BREW /health HTTP/1.1\r\n" + kHost + "\r\n"), 501, "invalid_request_error",
                "not_implemented");
    check_error(req("GET /v1/embeddings HTTP/1.1\r\n" + kHost + "\r\n"), 404,
                "invalid_request_error", "not_found");
    check_error(req("POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
                    "Content-Type: application/json\r\n\r\n"),
                411, "invalid_request_error", "length_required");
    r = req("POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
            "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}");
    check_error(r, 415, "invalid_request_error", "unsupported_media_type");
    check_error(req("POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
                    "Content-Type: application/json\r\nContent-Encoding: br\r\n"
                    "Content-Length: 2\r\n\r\n{}"),
                415, "invalid_request_error", "unsupported_media_type");
    check_error(req("POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
                    "Content-Type: application/json\r\nContent-Length: 2\r\n"
                    "Content-Length: 2\r\n\r\n{}"),
                400, "invalid_request_error", "bad_request");
    r = req("GET /v1/models HTTP/1.1\r\n" + kHost + kAuth + "Range: bytes=0-3\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["data"][0]["id"] == "tiny");
  }
  SECTION("gzip bodies, pipelining and a half-closed client") {
    const std::string body = chat_json();
    const auto plain = raw_request(port, chat_post(body), 60s);
    REQUIRE(plain);
    REQUIRE(plain->status == 200);
    const std::string answer =
        json::parse(plain->body)["choices"][0]["message"]["content"].get<std::string>();
    const std::string packed = gzip(body);
    const auto zipped = raw_request(
        port,
        "POST /v1/chat/completions HTTP/1.1\r\n" + kHost + kAuth +
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: " +
            std::to_string(packed.size()) + "\r\n\r\n" + packed,
        60s);
    REQUIRE(zipped);
    CHECK(zipped->status == 200);
    CHECK(json::parse(zipped->body)["choices"][0]["message"]["content"] == answer);

    RawConn p(port);  // three requests in one write: three answers, in order
    REQUIRE(p.send("GET /health HTTP/1.1\r\n" + kHost + "\r\n" + chat_post(body) +
                   "GET /v1/models HTTP/1.1\r\n" + kHost + kAuth + "\r\n"));
    auto r = p.read_final(10s);
    REQUIRE(r);
    CHECK(r->body == R"({"status":"serving"})");
    r = p.read_final(60s);
    REQUIRE(r);
    CHECK(json::parse(r->body)["choices"][0]["message"]["content"] == answer);
    r = p.read_final(10s);
    REQUIRE(r);
    CHECK(json::parse(r->body)["object"] == "list");

    RawConn h(port);  // sends its request, shuts down its sending side, waits for the answer
    REQUIRE(h.send(chat_post(body)));
    h.shutdown_write();
    r = h.read_final(60s);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["choices"][0]["message"]["content"] == answer);
    CHECK(h.wait_closed(10s));
    CHECK(http_requests(scrape(server), "ChatCompletions", "OK") == 4);
  }
  SECTION("what a client sends cannot forge or colour a log line") {
    const std::string forged = "x\n2026-01-01T00:00:00.000Z info  FORGED \x1b[31mred\x1b[0m";
    const auto r = raw_request(port, chat_post(chat_json({{"model", forged}})), 10s);
    check_error(r, 404, "invalid_request_error", "not_found");
    const std::string log = server.log();
    CHECK(log.find("\n2026-01-01T00:00:00.000Z info  FORGED") == std::string::npos);
    CHECK(log.find('\x1b') == std::string::npos);
    CHECK_THAT(log, ContainsSubstring("x\\n2026-01-01T00:00:00.000Z info  FORGED \\x1b[31mred"));
  }
  CHECK(server.terminate() == std::optional<int>(0));
}

TEST_CASE(
    "openai hostile: slots busy and slow clients: health, models and 429 at once, "
    "nothing lost") {
  ServerProcess server(ServerLaunch{{"--http-port", "0", "--workers", "1", "--max-batch", "1",
                                     "--max-queue", "1", "--http-header-timeout-ms", "60000"}});
  const int port = server.http_port();
  auto ch = server.channel();
  // A running and a queued request (gRPC streams held open until released): every slot busy.
  std::promise<void> a_running, b_queued, release;
  auto release_f = release.get_future().share();
  auto hold = [&](std::promise<void>* signal, bool on_step) {
    return [=, signalled = false](const v1::GenerateEvent& ev) mutable {
      if (!signalled && ((on_step && ev.has_step()) || (!on_step && ev.has_queued()))) {
        signal->set_value();
        signalled = true;
      }
      return !(signalled && release_f.wait_for(0s) == std::future_status::ready);
    };
  };
  auto a = std::async(std::launch::async, [&] {
    return generate_stream(*ch, slow_request(1), {}, hold(&a_running, true));
  });
  REQUIRE(a_running.get_future().wait_for(60s) == std::future_status::ready);
  auto b = std::async(std::launch::async, [&] {
    return generate_stream(*ch, slow_request(2), {}, hold(&b_queued, false));
  });
  REQUIRE(b_queued.get_future().wait_for(60s) == std::future_status::ready);
  // 24 slow clients hold connections, each in the middle of its request head.
  std::vector<std::unique_ptr<RawConn>> slow;
  for (int i = 0; i < 24; ++i) {
    slow.push_back(std::make_unique<RawConn>(port));
    REQUIRE(slow.back()->send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  }
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto h = http_get(port, "/health", 10s);
    REQUIRE(h);
    CHECK(h->status == 200);
    const auto m = http_get(port, "/v1/models", 10s);
    REQUIRE(m);
    CHECK(m->status == 200);
    INFO("health + models took "
         << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);  // a liveness bound, not a benchmark
  }
  // A new chat request beyond capacity: 429 with Retry-After, not a wait.
  const auto r = raw_request(port, chat_post(chat_json(), ""), 30s);
  check_error(r, 429, "rate_limit_error", "resource_exhausted");
  CHECK(r->header("Retry-After") == "1");
  release.set_value();  // the held streams stop reading and cancel: both get their status
  CHECK(a.get().status.error_code() == grpc::StatusCode::CANCELLED);
  CHECK(b.get().status.error_code() == grpc::StatusCode::CANCELLED);
  for (auto& c : slow) c->send("1\r\n\r\n");  // the slow heads complete: answered, not dropped
  for (auto& c : slow) {
    const auto rs = c->read_final(30s);
    REQUIRE(rs);
    CHECK(rs->status == 411);  // (their POST has no body framing)
  }
  CHECK(server.terminate() == std::optional<int>(0));
}
