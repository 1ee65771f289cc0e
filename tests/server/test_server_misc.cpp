// Bearer-token checks, JSON log lines, UTF-8 validation and the test-pattern PNG.
#include "tests/common/catch.h"

#include <nlohmann/json.hpp>

#include "server/auth.h"
#include "server/logging.h"
#include "server/proto_convert.h"
#include "server/test_pattern.h"

using namespace shirg::rpc;
using Catch::Matchers::ContainsSubstring;
using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;
using namespace std::string_literals;

TEST_CASE("bearer tokens") {
  Metadata none;
  CHECK(check_bearer_token(none, "").ok());  // auth off
  const grpc::Status missing = check_bearer_token(none, "tok");
  CHECK(missing.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(missing.error_message(), ContainsSubstring("authorization: Bearer <token>"));

  auto with = [](const std::string& v) {
    static std::string keep;
    keep = v;
    Metadata md;
    md.emplace("authorization", grpc::string_ref(keep));
    return md;
  };
  CHECK(check_bearer_token(with("Bearer tok"), "tok").ok());
  CHECK(check_bearer_token(with("bearer tok"), "tok").ok());
  const grpc::Status wrong = check_bearer_token(with("Bearer tok2"), "tok");
  CHECK(wrong.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK(wrong.error_message() == "invalid bearer token");
  CHECK(check_bearer_token(with("Bearer to"), "tok").error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(check_bearer_token(with("Basic dG9rOg=="), "tok").error_message() ==
        "authorization must use the Bearer scheme");
  CHECK(check_bearer_token(with("Bearer "), "tok").error_code() ==
        grpc::StatusCode::UNAUTHENTICATED);
  CHECK(check_bearer_token(with("tok"), "tok").error_code() == grpc::StatusCode::UNAUTHENTICATED);
}

TEST_CASE("JSON log lines are valid JSON with the request id") {
  const std::string line =
      format_json_line("2024-01-01T00:00:00.000Z", "info", "req-1",
                       "quote \" backslash \\ newline \n tab \t bell \a bad \xFF end");
  const auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "info");
  CHECK(j["request_id"] == "req-1");
  CHECK(j["msg"] == "quote \" backslash \\ newline \n tab \t bell \a bad \xEF\xBF\xBD end");
  CHECK(line.find('\n') == std::string::npos);
  const auto no_id = nlohmann::json::parse(format_json_line("t", "warn", "", "m"));
  CHECK_FALSE(no_id.contains("request_id"));
}

TEST_CASE("text log lines escape what a client could use to forge lines or drive a terminal") {
  const std::string line = format_text_line(
      "2024-01-01T00:00:00.000Z", "info", "req-1",
      "path /x\n2024-01-01T00:00:00.000Z info  forged\r \x1b[31mred\x1b[0m nul \0 del \x7f "
      "c1 \xC2\x9b bad \xFF tab\tok \xC3\xA9t\xC3\xA9"s);
  CHECK(line ==
        "2024-01-01T00:00:00.000Z info  [req=req-1] path /x\\n2024-01-01T00:00:00.000Z info  "
        "forged\\r \\x1b[31mred\\x1b[0m nul \\x00 del \\x7f c1 \\u009b bad \\xff "
        "tab\tok \xC3\xA9t\xC3\xA9");
  for (char c : line) {
    const auto u = static_cast<unsigned char>(c);
    CHECK((u >= 0x20 || c == '\t'));
  }
  CHECK(format_text_line("t", "warning", "", "m") == "t warning m");
}

TEST_CASE("request id scopes nest and restore") {
  CHECK(thread_request_id().empty());
  {
    RequestIdScope a("outer");
    CHECK(thread_request_id() == "outer");
    {
      RequestIdScope b("inner");
      CHECK(thread_request_id() == "inner");
    }
    CHECK(thread_request_id() == "outer");
  }
  CHECK(thread_request_id().empty());
}

TEST_CASE("UTF-8 validation") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xE2\x96\x91"));            // U+2591
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xE2\x96"));          // truncated
  CHECK_FALSE(is_valid_utf8("\x80"));
}

TEST_CASE("test-pattern PNGs are deterministic PNG files") {
  const std::string a = make_test_pattern_png(64, 48, 7);
  CHECK(a.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(a == make_test_pattern_png(64, 48, 7));
  CHECK(a != make_test_pattern_png(64, 48, 8));
  CHECK_THROWS_AS(make_test_pattern_png(0, 10, 1), std::invalid_argument);
}
