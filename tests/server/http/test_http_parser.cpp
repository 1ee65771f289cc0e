// The HTTP/1.1 request parser (server/http/request_parser.h): framing, every limit at its
// boundary, content decoding with the limit on decoded bytes, and byte-at-a-time input.
#include <zlib.h>

#include <string>
#include "tests/common/catch.h"

#include "server/http/request_parser.h"

using namespace shirg::http;
using State = RequestParser::State;

namespace {

HttpLimits small_limits() {
  HttpLimits l;
  l.max_request_line = 64;
  l.max_header_line = 64;
  l.max_headers = 8;
  l.max_head_bytes = 256;
  l.max_body_bytes = 1000;
  return l;
}

// Feeds `bytes` (all at once, or one byte per call), accepting the body at kHeadDone.
RequestParser& parse(RequestParser& p, const std::string& bytes, bool byte_at_a_time = false,
                     std::size_t* used_out = nullptr) {
  std::size_t used = 0;
  while (used < bytes.size()) {
    const std::size_t n = byte_at_a_time ? 1 : bytes.size() - used;
    used += p.feed(bytes.data() + used, n);
    if (p.state() == State::kHeadDone) p.accept_body();
    if (p.state() == State::kDone || p.state() == State::kError) break;
  }
  if (p.state() == State::kHeadDone) p.accept_body();
  if (used_out) *used_out = used;
  return p;
}

std::string gzip(const std::string& data, int window_bits = 15 + 16) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY);
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

const std::string kHost = "Host: x\r\n";

}  // namespace

TEST_CASE("http parser: a request with a body, at once and byte by byte") {
  const std::string req = "POST /v1/chat/completions?x=1 HTTP/1.1\r\n" + kHost +
                          "Content-Type: application/json\r\nContent-Length: 5\r\n\r\nhello";
  for (bool bytewise : {false, true}) {
    RequestParser p(small_limits());
    parse(p, req, bytewise);
    REQUIRE(p.state() == State::kDone);
    CHECK(p.request().method == "POST");
    CHECK(p.request().path == "/v1/chat/completions");
    CHECK(p.request().query == "x=1");
    CHECK(p.request().body == "hello");
    CHECK(*p.request().header("content-type") == "application/json");
    CHECK(p.keep_alive());
  }
}

TEST_CASE("http parser: it stops at the end of a request (pipelining) and after the head") {
  const std::string one = "GET /a HTTP/1.1\r\n" + kHost + "\r\n";
  const std::string two = "GET /b HTTP/1.1\r\n" + kHost + "\r\n";
  RequestParser p(small_limits());
  const std::string both = one + two;
  std::size_t used = p.feed(both.data(), both.size());
  CHECK(used == one.size());
  REQUIRE(p.state() == State::kHeadDone);  // vetting point: no body byte read yet
  p.accept_body();
  REQUIRE(p.state() == State::kDone);
  CHECK(p.request().path == "/a");
  p.reset();
  used = p.feed(both.data() + one.size(), two.size());
  CHECK(used == two.size());
  p.accept_body();
  CHECK(p.request().path == "/b");
}

TEST_CASE("http parser: chunked bodies, extensions and trailers") {
  RequestParser p(small_limits());
  parse(p,
        "POST / HTTP/1.1\r\n" + kHost +
            "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1 \r\n!\r\n0\r\nX-T: 1\r\n\r\n",
        true);
  REQUIRE(p.state() == State::kDone);
  CHECK(p.request().body == "hello!");
  CHECK(p.request().header("X-T") == nullptr);  // trailers are not headers
}

TEST_CASE("http parser: limits at their boundary") {
  const HttpLimits lim = small_limits();
  SECTION("request line: 64 bytes pass, 65 are 414 before the line ends") {
    const std::string target = "/" + std::string(50, 'a');  // "GET " + 51 + " HTTP/1.1" = 64
    RequestParser ok(lim);
    parse(ok, "GET " + target + " HTTP/1.1\r\n" + kHost + "\r\n");
    CHECK(ok.state() == State::kDone);
    RequestParser bad(lim);
    const std::string line = "GET " + target + "a HTTP/1.1";  // no CRLF yet
    parse(bad, line + std::string(1000, 'a'));
    REQUIRE(bad.state() == State::kError);
    CHECK(bad.error().status == 414);
  }
  SECTION("header line: 64 bytes pass, more is 431 without waiting for the newline") {
    const std::string name = "X: ";
    RequestParser ok(lim);
    parse(ok,
          "GET / HTTP/1.1\r\n" + kHost + name + std::string(64 - name.size(), 'v') + "\r\n\r\n");
    CHECK(ok.state() == State::kDone);
    RequestParser bad(lim);
    std::size_t used = 0;
    parse(bad, "GET / HTTP/1.1\r\n" + kHost + name + std::string(100000, 'v'), true, &used);
    REQUIRE(bad.state() == State::kError);
    CHECK(bad.error().status == 431);
    CHECK(used < 200);  // refused as soon as the line passed the limit
  }
  SECTION("header count and head size") {
    std::string many = "GET / HTTP/1.1\r\n" + kHost;
    for (int i = 0; i < 8; ++i) many += "A: b\r\n";
    RequestParser p(lim);
    parse(p, many + "\r\n");
    REQUIRE(p.state() == State::kError);  // Host + 8 = 9 lines > 8
    CHECK(p.error().status == 431);
    std::string big = "GET / HTTP/1.1\r\n" + kHost;
    for (int i = 0; i < 5; ++i) big += "A: " + std::string(55, 'b') + "\r\n";
    RequestParser q(lim);
    parse(q, big + "\r\n");
    REQUIRE(q.state() == State::kError);
    CHECK(q.error().status == 431);
  }
  SECTION("body: Content-Length over the limit is 413 before any body byte") {
    RequestParser p(lim);
    std::size_t used = 0;
    const std::string head = "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1001\r\n\r\n";
    parse(p, head + std::string(1001, 'x'), false, &used);
    REQUIRE(p.state() == State::kError);
    CHECK(p.error().status == 413);
    CHECK(used == head.size());
    RequestParser q(lim);
    parse(q,
          "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1000\r\n\r\n" + std::string(1000, 'x'));
    CHECK(q.state() == State::kDone);
  }
  SECTION("chunked body over the limit: 413 at the chunk size, before its data") {
    RequestParser p(lim);
    std::size_t used = 0;
    const std::string head = "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n";
    parse(p, head + "3e8\r\n" + std::string(1000, 'x') + "\r\n1\r\n", false, &used);
    REQUIRE(p.state() == State::kError);
    CHECK(p.error().status == 413);
    CHECK(used == head.size() + 5 + 1000 + 2 + 3);
  }
  SECTION("content coding: the decoded size counts") {
    const std::string bomb = gzip(std::string(100000, '\0'));
    REQUIRE(bomb.size() < 1000);
    RequestParser p(lim);
    parse(p, "POST / HTTP/1.1\r\n" + kHost + "Content-Encoding: gzip\r\nContent-Length: " +
                 std::to_string(bomb.size()) + "\r\n\r\n" + bomb);
    REQUIRE(p.state() == State::kError);
    CHECK(p.error().status == 413);
    const std::string small = gzip("{\"a\": 1}");
    for (const char* coding : {"gzip", "x-gzip"}) {
      RequestParser q(lim);
      parse(q,
            "POST / HTTP/1.1\r\n" + kHost + "Content-Encoding: " + coding +
                "\r\nContent-Length: " + std::to_string(small.size()) + "\r\n\r\n" + small,
            true);
      REQUIRE(q.state() == State::kDone);
      CHECK(q.request().body == "{\"a\": 1}");
    }
    const std::string zlib = gzip("{\"b\": 2}", 15);
    RequestParser d(lim);
    parse(d, "POST / HTTP/1.1\r\n" + kHost + "Content-Encoding: deflate\r\nContent-Length: " +
                 std::to_string(zlib.size()) + "\r\n\r\n" + zlib);
    REQUIRE(d.state() == State::kDone);
    CHECK(d.request().body == "{\"b\": 2}");
    RequestParser t(lim);  // a truncated stream
    parse(t, "POST / HTTP/1.1\r\n" + kHost + "Content-Encoding: gzip\r\nContent-Length: " +
                 std::to_string(small.size() - 4) + "\r\n\r\n" + small.substr(0, small.size() - 4));
    REQUIRE(t.state() == State::kError);
    CHECK(t.error().status == 400);
  }
}

TEST_CASE("http parser: malformed framing and heads are refused with the right status") {
  struct Case {
    std::string bytes;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1, 1\r\n\r\nx", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Length: +1\r\n\r\nx", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: gzip\r\n\r\n", 400},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Encoding: br\r\nContent-Length: 1\r\n\r\nx", 415},
      {"POST / HTTP/1.1\r\n" + kHost + "Content-Encoding: gzip, gzip\r\nContent-Length: 1\r\n\r\nx",
       415},
      {"POST / HTTP/1.1\r\n" + kHost + "Expect: something\r\n\r\n", 417},
      {"GET / HTTP/1.1\r\n\r\n", 400},                              // no Host
      {"GET / HTTP/1.1\r\n" + kHost + kHost + "\r\n", 400},         // two Hosts
      {"GET / HTTP/1.1\r\n" + kHost + " folded\r\n\r\n", 400},      // obs-fold
      {"GET / HTTP/1.1\r\n" + kHost + "Bad Name: x\r\n\r\n", 400},  // blank in a name
      {"GET / HTTP/1.1\r\n" + kHost +
           "X: a\x01"
           "b\r\n\r\n",
       400},                                                    // control character
      {"GET / HTTP/1.1\r\n" + kHost + "X: a\rb\r\n\r\n", 400},  // bare CR
      {"GET / HTTP/2.0\r\n" + kHost + "\r\n", 505},
      {"GET / FTP/1.0\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET /a#b HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"GET ftp://x/ HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"G(T / HTTP/1.1\r\n" + kHost + "\r\n", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", 400},
      {"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n" + kHost + "\r\n", 400},
  };
  for (const Case& c : cases) {
    INFO(c.bytes);
    RequestParser p(small_limits());
    parse(p, c.bytes);
    REQUIRE(p.state() == State::kError);
    CHECK(p.error().status == c.status);
    CHECK_FALSE(p.error().message.empty());
  }
}

TEST_CASE("http parser: accepted forms") {
  RequestParser a(small_limits());
  parse(a, "GET http://example.com/v1/models?x HTTP/1.1\r\n" + kHost + "\r\n");
  REQUIRE(a.state() == State::kDone);
  CHECK(a.request().path == "/v1/models");
  RequestParser b(small_limits());
  parse(b, "\r\nGET / HTTP/1.0\r\n\r\n");  // a blank line first; HTTP/1.0 without Host
  REQUIRE(b.state() == State::kDone);
  CHECK_FALSE(b.keep_alive());
  RequestParser c(small_limits());
  parse(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(c.keep_alive());
  RequestParser d(small_limits());
  parse(d, "GET / HTTP/1.1\nHost: x\n\n");  // bare LF line ends
  REQUIRE(d.state() == State::kDone);
  CHECK(*d.request().header("Host") == "x");
  RequestParser e(small_limits());
  parse(e, "GET / HTTP/1.1\r\n" + kHost + "Connection: keep-alive, close\r\n\r\n");
  CHECK_FALSE(e.keep_alive());
  RequestParser f(small_limits());
  parse(f, "POST / HTTP/1.1\r\n" + kHost + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
  REQUIRE(f.state() == State::kDone);
  CHECK(f.expects_continue());
}
