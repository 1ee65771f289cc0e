// The HTTP/1.1 transport (server/http/http_server.h) in process, driven over raw sockets by
// hostile and odd clients: limits answered at once, timeouts per phase, the connection cap,
// the body budget, pipelining, half-close, HEAD, 405/501, and cheap routes answering while
// every handler thread is busy. Small limits and timeouts keep every case fast.
#include <sys/socket.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include "tests/common/catch.h"

#include "server/http/exchange.h"
#include "server/http/http_server.h"
#include "tests/server/raw_http.h"

using namespace shirg::http;
using namespace shirg::testing;
using namespace std::chrono_literals;

namespace {

const std::string kHost = "Host: test\r\n";

// A route whose handler parks its exchange until the test answers it.
struct Parked {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::shared_ptr<Exchange>> exchanges;
  std::atomic<int> gone{0};

  void add(std::shared_ptr<Exchange> ex) {
    ex->on_gone([this] { ++gone; });
    std::lock_guard<std::mutex> lock(mu);
    exchanges.push_back(std::move(ex));
    cv.notify_all();
  }
  std::shared_ptr<Exchange> wait(std::size_t i) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 10s, [&] { return exchanges.size() > i; });
    return exchanges.size() > i ? exchanges[i] : nullptr;
  }
};

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = "text/plain";
  return r;
}

struct TestServer {
  explicit TestServer(HttpServerOptions o = options()) {
    Router router;
    Route hello;
    hello.path = "/hello";
    hello.methods = {"GET"};
    hello.handle = [](std::shared_ptr<Exchange> ex) { ex->respond(text(200, "hi")); };
    router.add(hello);

    Route echo;
    echo.path = "/echo";
    echo.methods = {"POST"};
    echo.body_type = "application/json";
    echo.offload = true;
    echo.check_head = [](const HttpRequest& h) -> std::optional<HttpResponse> {
      if (h.header("X-Deny")) return text(401, "denied");
      return std::nullopt;
    };
    echo.handle = [](std::shared_ptr<Exchange> ex) {
      ex->respond(text(
          200, std::to_string(ex->request().body.size()) + ":" + ex->request().body.substr(0, 64)));
    };
    router.add(echo);

    Route park;
    park.path = "/park";
    park.methods = {"GET", "POST"};
    park.body_type = "application/json";
    park.offload = true;  // holds a handler thread until released (/park?hold)
    park.handle = [this](std::shared_ptr<Exchange> ex) {
      const bool hold = ex->request().query == "hold";
      parked.add(ex);
      if (hold) {
        std::unique_lock<std::mutex> lock(release_mu);
        release_cv.wait_for(lock, 20s, [&] { return released; });
      }
    };
    router.add(park);

    Route big;
    big.path = "/big";
    big.methods = {"GET"};
    big.handle = [](std::shared_ptr<Exchange> ex) {
      ex->respond(text(200, std::string(64 << 20, 'b')));
    };
    router.add(big);

    Route model;
    model.path = "/m/";
    model.has_param = true;
    model.methods = {"GET"};
    model.handle = [](std::shared_ptr<Exchange> ex) { ex->respond(text(200, ex->param())); };
    router.add(model);

    server = std::make_unique<HttpServer>(
        o, std::move(router),
        [](const HttpError& e, const HttpRequest*, const Route*, const std::string&) {
          return text(e.status, e.code + ": " + e.message);
        });
    port = server->start("127.0.0.1", 0);
  }
  ~TestServer() {
    release();
    server->stop();
  }
  static HttpServerOptions options() {
    HttpServerOptions o;
    o.limits.max_request_line = 256;
    o.limits.max_header_line = 256;
    o.limits.max_headers = 16;
    o.limits.max_head_bytes = 2048;
    o.limits.max_body_bytes = 4096;
    o.timeouts.header = 600ms;
    o.timeouts.body = 600ms;
    o.timeouts.idle = 400ms;
    o.timeouts.keepalive = 500ms;
    o.timeouts.linger = 300ms;
    o.max_connections = 8;
    o.max_body_buffer_bytes = 8192;
    o.handler_threads = 1;
    return o;
  }
  void release() {
    std::lock_guard<std::mutex> lock(release_mu);
    released = true;
    release_cv.notify_all();
  }
  bool eventually_open(int64_t n) {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < until) {
      if (server->stats().open_connections == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  Parked parked;
  std::mutex release_mu;
  std::condition_variable release_cv;
  bool released = false;
  std::unique_ptr<HttpServer> server;
  int port = 0;
};

std::string post(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\n" + kHost + "Content-Type: application/json\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
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

}  // namespace

TEST_CASE("http server: routes, HEAD, 404, 405 with Allow, 501, keep-alive") {
  TestServer s;
  RawConn c(s.port);
  REQUIRE(c.send("GET /hello HTTP/1.1\r\n" + kHost + "\r\n"));
  auto r = c.read_final();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hi");
  CHECK(r->has_header("Date"));
  for (const char* m : {"PUT", "DELETE", "OPTIONS", "PATCH", "POST"}) {
    REQUIRE(c.send(std::string(m) + " /hello HTTP/1.1\r\n" + kHost + "\r\n"));
    r = c.read_final();
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->header("Allow") == "GET, HEAD");
  }
  REQUIRE(c.send("BREW /hello HTTP/1.1\r\n" + kHost + "\r\n"));
  r = c.read_final();
  REQUIRE(r);
  CHECK(r->status == 501);
  REQUIRE(c.send("GET /nowhere HTTP/1.1\r\n" + kHost + "\r\n"));
  r = c.read_final();
  REQUIRE(r);
  CHECK(r->status == 404);
  REQUIRE(c.send("HEAD /hello HTTP/1.1\r\n" + kHost + "\r\n"));
  r = c.read_response(2s, /*head=*/true);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Content-Length") == "2");
  // No body came after the HEAD response: the next response follows directly.
  REQUIRE(c.send("GET /m/a%2Eb HTTP/1.1\r\n" + kHost + "Range: bytes=0-0\r\n\r\n"));
  r = c.read_final();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "a.b");  // %-decoded parameter; Range ignored (whole body, 200)
}

TEST_CASE("http server: every limit answers at once and closes") {
  TestServer s;
  SECTION("Content-Length over the body limit: 413 without sending the body") {
    RawConn c(s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\n" + kHost +
                   "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"));
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->header("Connection") == "close");
    CHECK(c.wait_closed(2s));
  }
  SECTION("a chunked body over the limit: 413 mid-body") {
    RawConn c(s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\n" + kHost +
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
    for (int i = 0; i < 8; ++i) c.send("400\r\n" + std::string(1024, 'x') + "\r\n");
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(c.wait_closed(2s));
  }
  SECTION("a gzip body that inflates past the limit: 413; one within it is decoded") {
    const std::string bomb = gzip(std::string(10 << 20, '{'));
    auto r = raw_request(s.port, post("/echo", bomb, "Content-Encoding: gzip\r\n"), 5s);
    REQUIRE(r);
    CHECK(r->status == 413);
    r = raw_request(s.port, post("/echo", gzip("{\"k\": 1}"), "Content-Encoding: gzip\r\n"), 5s);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "8:{\"k\": 1}");
  }
  SECTION("a header line without end: 431 once it passes the limit") {
    RawConn c(s.port);
    REQUIRE(c.send("GET /hello HTTP/1.1\r\n" + kHost + "X-Long: " + std::string(100000, 'a')));
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 431);
    CHECK(c.wait_closed(2s));
  }
  SECTION("a request line without end: 414") {
    RawConn c(s.port);
    REQUIRE(c.send("GET /" + std::string(100000, 'a')));
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 414);
  }
  SECTION("too many headers: 431") {
    std::string req = "GET /hello HTTP/1.1\r\n" + kHost;
    for (int i = 0; i < 20; ++i) req += "X-" + std::to_string(i) + ": v\r\n";
    auto r = raw_request(s.port, req + "\r\n", 2s);
    REQUIRE(r);
    CHECK(r->status == 431);
  }
  SECTION("framing and content type") {
    auto status = [&](const std::string& bytes) {
      auto r = raw_request(s.port, bytes, 2s);
      return r ? r->status : 0;
    };
    CHECK(status("POST /echo HTTP/1.1\r\n" + kHost + "Content-Type: application/json\r\n\r\n") ==
          411);
    CHECK(status(post("/echo", "{}", "Content-Length: 2\r\n")) == 400);  // duplicate length
    CHECK(status("POST /echo HTTP/1.1\r\n" + kHost +
                 "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}") == 415);
    CHECK(status("POST /echo HTTP/1.1\r\n" + kHost + "Content-Length: 2\r\n\r\n{}") == 415);
    CHECK(status(post("/echo", "{}", "Content-Encoding: br\r\n")) == 415);
    CHECK(status("POST /echo HTTP/1.1\r\n" + kHost +
                 "Content-Type: application/json; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}") ==
          200);
  }
}

TEST_CASE("http server: check_head refuses before the body is read; Expect: 100-continue") {
  TestServer s;
  {  // refused: the answer comes while the client has sent only the head
    RawConn c(s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\n" + kHost + "X-Deny: 1\r\n" +
                   "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"));
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  {  // 100 Continue, then the final answer
    RawConn c(s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\n" + kHost + "Expect: 100-continue\r\n" +
                   "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"));
    auto interim = c.read_response(2s);
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("{}"));
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  {  // refused with Expect: no 100, the final status at once
    RawConn c(s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\n" + kHost + "X-Deny: 1\r\nExpect: 100-continue\r\n" +
                   "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"));
    auto r = c.read_response(2s);
    REQUIRE(r);
    CHECK(r->status == 401);
  }
}

TEST_CASE("http server: pipelined requests are answered in order") {
  TestServer s;
  RawConn c(s.port);
  REQUIRE(c.send(post("/park", "{}") + "GET /hello HTTP/1.1\r\n" + kHost + "\r\n" +
                 post("/echo", "{\"x\":1}")));
  auto ex = s.parked.wait(0);
  REQUIRE(ex);
  std::this_thread::sleep_for(100ms);  // the later requests are not answered before the first
  ex->respond(text(200, "first"));
  for (const char* want : {"first", "hi", "7:{\"x\":1}"}) {
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->body == want);
  }
}

TEST_CASE("http server: a half-closed client gets its answer; a gone one is reported") {
  TestServer s;
  {
    RawConn c(s.port);
    REQUIRE(c.send(post("/park", "{}")));
    c.shutdown_write();
    auto ex = s.parked.wait(0);
    REQUIRE(ex);
    auto interim = c.read_response(2s);  // the probe: an interim response
    REQUIRE(interim);
    CHECK(interim->status == 100);
    std::this_thread::sleep_for(100ms);
    CHECK(s.parked.gone == 0);
    ex->respond(text(200, "late"));
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->body == "late");
    CHECK(c.wait_closed(2s));
  }
  {  // closed for good: the exchange learns it (within the probe's round trip)
    auto c = std::make_unique<RawConn>(s.port);
    REQUIRE(c->send(post("/park", "{}")));
    REQUIRE(s.parked.wait(1));
    c.reset();
    const auto until = std::chrono::steady_clock::now() + 3s;
    while (s.parked.gone == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    CHECK(s.parked.gone == 1);
  }
}

TEST_CASE("http server: timeouts per phase") {
  TestServer s;
  SECTION("a slow head: 408 once the header timeout passes, even while bytes trickle in") {
    RawConn c(s.port);
    const auto start = std::chrono::steady_clock::now();
    const std::string head = "GET /hello HTTP/1.1\r\n" + kHost + "X-Slow: ";
    for (char ch : head) {
      if (!c.send(std::string(1, ch))) break;
      std::this_thread::sleep_for(30ms);
      if (std::chrono::steady_clock::now() - start > 2s) break;
    }
    auto r = c.read_final(2s);
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
  }
  SECTION("a body that stops: 408") {
    RawConn c(s.port);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\n" + kHost +
                   "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n{"));
    auto r = c.read_final(3s);
    REQUIRE(r);
    CHECK(r->status == 408);
  }
  SECTION("an idle kept-alive connection is closed; a connection that sends nothing too") {
    RawConn c(s.port);
    REQUIRE(c.send("GET /hello HTTP/1.1\r\n" + kHost + "\r\n"));
    REQUIRE(c.read_final(2s));
    CHECK(c.wait_closed(3s));
    RawConn silent(s.port);
    CHECK(silent.wait_closed(3s));
  }
  SECTION("a client that does not read a large response is dropped") {
    RawConn c(s.port);
    int small = 4096;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    REQUIRE(c.send("GET /big HTTP/1.1\r\n" + kHost + "\r\n"));
    std::this_thread::sleep_for(200ms);
    REQUIRE(s.server->stats().open_connections == 1);
    CHECK(s.eventually_open(0));
  }
}

TEST_CASE("http server: the connection cap replaces idle connections, else 429") {
  HttpServerOptions o = TestServer::options();  // max_connections 8
  o.timeouts.header = o.timeouts.body = o.timeouts.idle = 10s;
  TestServer s(o);
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(std::make_unique<RawConn>(s.port));
  REQUIRE(s.eventually_open(8));
  // A new client is served: the oldest idle connection makes room.
  auto r = http_get(s.port, "/hello", 2s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(idle.front()->wait_closed(2s));
  CHECK(s.server->stats().connections_evicted >= 1);
  idle.clear();
  REQUIRE(s.eventually_open(0));
  // Eight connections sending bodies cannot be replaced: the ninth gets 429 with Retry-After.
  std::vector<std::unique_ptr<RawConn>> busy;
  for (int i = 0; i < 8; ++i) {
    busy.push_back(std::make_unique<RawConn>(s.port));
    busy.back()->send("POST /park HTTP/1.1\r\n" + kHost +
                      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
  }
  REQUIRE(s.eventually_open(8));
  r = http_get(s.port, "/hello", 2s);
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->header("Retry-After") == "1");
  CHECK(s.server->stats().connections_refused >= 1);
}

TEST_CASE(
    "http server: the body budget refuses with 429 before reading; cheap routes answer "
    "while every handler thread is busy") {
  TestServer s;  // body budget 8192, body limit 4096, one handler thread
  RawConn a(s.port), b(s.port), c(s.port);
  const std::string head = "POST /park?hold HTTP/1.1\r\n" + kHost +
                           "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n";
  REQUIRE(a.send(head + std::string(4000, ' ')));  // parked on the one handler thread
  REQUIRE(s.parked.wait(0));
  REQUIRE(b.send(head));  // reserves its body: 8000 of 8192 in use
  std::this_thread::sleep_for(100ms);
  REQUIRE(c.send(head));
  auto r = c.read_final(2s);
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->header("Retry-After") == "1");
  // The handler thread is held, yet the transport answers inline routes.
  r = http_get(s.port, "/hello", 2s);
  REQUIRE(r);
  CHECK(r->status == 200);
  s.release();
}

TEST_CASE("http server: HTTP/1.0 clients and a streamed response") {
  TestServer s;
  auto r = raw_request(s.port, "GET /hello HTTP/1.0\r\n\r\n", 2s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("Connection") == "close");
  RawConn c(s.port);
  REQUIRE(c.send(post("/park", "{}")));
  auto ex = s.parked.wait(0);
  REQUIRE(ex);
  HttpResponse head;
  head.content_type = "text/event-stream";
  ex->start_stream(head);
  ex->write("data: 1\n\n");
  ex->write("data: 2\n\n");
  ex->finish_stream();
  r = c.read_final(2s);
  REQUIRE(r);
  CHECK(r->header("Transfer-Encoding") == "chunked");
  CHECK(r->body == "data: 1\n\ndata: 2\n\n");
  REQUIRE(c.send("GET /hello HTTP/1.1\r\n" + kHost + "\r\n"));  // still usable
  r = c.read_final(2s);
  REQUIRE(r);
  CHECK(r->body == "hi");
}
