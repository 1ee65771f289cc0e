// Unit tests of clients/args.h and the proto-building helpers of clients/rpc_common.h.
#include "tests/common/catch.h"

#include "clients/args.h"
#include "clients/progress_display.h"
#include "clients/rpc_common.h"

#include <set>

using namespace shirg::clients;

namespace {

ArgParser make_parser() {
  ArgParser a("prog", "[options]");
  a.flag("json", "json output");
  a.option("image", "FILE", "image");
  a.option("timeout", "S", "deadline", "30");
  a.option("concurrency", "N,...", "levels");
  add_request_options(a);
  return a;
}

}  // namespace

TEST_CASE("options take values in both spellings and flags take none") {
  ArgParser a = make_parser();
  a.parse({"--image", "x.png", "--json", "--timeout=2.5", "--concurrency", "1,2,4"});
  CHECK(a.get("image") == "x.png");
  CHECK(a.has("json"));
  CHECK(a.get_double("timeout") == 2.5);
  CHECK(a.get_double_list("concurrency") == std::vector<double>{1, 2, 4});
  CHECK_FALSE(a.has("gen-length"));
}

TEST_CASE("defaults apply when an option is absent and an empty value is kept") {
  ArgParser a = make_parser();
  a.parse({"--image", ""});
  CHECK(a.has("image"));
  CHECK(a.get("image").empty());
  CHECK(a.get_int("timeout") == 30);
}

TEST_CASE("bad command lines are usage errors") {
  CHECK_THROWS_WITH(make_parser().parse({"--nope"}),
                    Catch::Matchers::ContainsSubstring("unknown option --nope"));
  CHECK_THROWS_WITH(make_parser().parse({"--image"}),
                    Catch::Matchers::ContainsSubstring("needs a value"));
  CHECK_THROWS_WITH(make_parser().parse({"--json=1"}),
                    Catch::Matchers::ContainsSubstring("takes no value"));
  CHECK_THROWS_WITH(make_parser().parse({"stray"}),
                    Catch::Matchers::ContainsSubstring("unexpected argument"));
  CHECK_THROWS_WITH(make_parser().parse({"--json", "--json"}),
                    Catch::Matchers::ContainsSubstring("twice"));
  ArgParser a = make_parser();
  a.parse({"--timeout", "soon", "--concurrency", "1,,2"});
  CHECK_THROWS_AS(a.get_double("timeout"), UsageError);
  CHECK_THROWS_AS(a.get_double_list("concurrency"), UsageError);
  ArgParser b = make_parser();
  CHECK_THROWS_AS(b.flag("json", "again"), std::logic_error);
}

TEST_CASE("the help flag is recognised and the help lists every option") {
  ArgParser a = make_parser();
  a.parse({"--help"});
  CHECK(a.help_requested());
  const std::string h = a.help();
  for (const char* o : {"--image FILE", "--gen-length N", "--mode NAME", "--query-aware",
                        "--timeout S", "(default 30)"}) {
    CHECK(h.find(o) != std::string::npos);
  }
}

TEST_CASE("only the generation and selection options given are set in the proto") {
  ArgParser a = make_parser();
  a.parse({"--gen-length", "16", "--steps", "8", "--remasking", "entropy", "--seed", "7", "--mode",
           "baseline-384", "--k", "256", "--query-aware"});
  const auto g = generation_options(a);
  CHECK(g.has_gen_length());
  CHECK(g.gen_length() == 16);
  CHECK(g.steps() == 8);
  CHECK(g.seed() == 7);
  CHECK(g.remasking() == shirg::v1::REMASKING_ENTROPY);
  CHECK_FALSE(g.has_temperature());
  CHECK_FALSE(g.has_block_length());
  CHECK(g.schedule() == shirg::v1::SCHEDULE_UNSPECIFIED);
  const auto s = selection_options(a);
  CHECK(s.mode() == shirg::v1::SELECTION_MODE_BASELINE_384);
  CHECK(s.k() == 256);
  CHECK(s.has_query_aware());
  CHECK_FALSE(s.has_adaptive_k());
}

TEST_CASE("enum names parse and unknown names are usage errors") {
  CHECK(parse_selection_mode("shirg") == shirg::v1::SELECTION_MODE_SHIRG);
  CHECK(parse_selection_mode("random-k") == shirg::v1::SELECTION_MODE_RANDOM_K);
  CHECK(parse_selection_mode("lavida-384") == shirg::v1::SELECTION_MODE_LAVIDA_384);
  CHECK(parse_schedule("shift") == shirg::v1::SCHEDULE_SHIFT);
  CHECK(parse_remasking("low-confidence") == shirg::v1::REMASKING_LOW_CONFIDENCE);
  CHECK_THROWS_AS(parse_selection_mode("SHIRG"), UsageError);
  CHECK_THROWS_AS(parse_remasking("best"), UsageError);
  ArgParser a = make_parser();
  a.parse({"--seed", "-1"});
  CHECK_THROWS_AS(generation_options(a), UsageError);
  for (const char* bad : {"18446744073709551616", "1e3", "+5", "5x"}) {
    ArgParser b = make_parser();
    b.parse({"--seed", bad});
    CHECK_THROWS_AS(generation_options(b), UsageError);
  }
}

TEST_CASE("the seed flag takes every uint64, 2^63 and above included") {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1} << 32, uint64_t{1} << 63, UINT64_MAX}) {
    ArgParser a = make_parser();
    a.parse({"--seed", std::to_string(seed)});
    CHECK(generation_options(a).seed() == seed);
  }
}

TEST_CASE("status codes have canonical names and distinct exit statuses") {
  CHECK(shirg::grpc_status_name(grpc::StatusCode::INVALID_ARGUMENT) == "INVALID_ARGUMENT");
  CHECK(shirg::grpc_status_name(grpc::StatusCode::UNAVAILABLE) == "UNAVAILABLE");
  CHECK(format_status(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such")) ==
        "NOT_FOUND: no such");
  CHECK(exit_code_for(grpc::StatusCode::OK) == 0);
  CHECK(exit_code_for(grpc::StatusCode::INVALID_ARGUMENT) == 13);
  CHECK(exit_code_for(grpc::StatusCode::UNAVAILABLE) == 24);
  std::set<int> codes = {kExitOk, kExitFailure, kExitUsage, kExitLocalIo, kExitNotServing};
  for (int c = 1; c <= 16; ++c) codes.insert(exit_code_for(static_cast<grpc::StatusCode>(c)));
  CHECK(codes.size() == 5 + 16);  // all distinct
}

TEST_CASE("responses print as JSON with proto field names") {
  shirg::v1::GenerateResponse r;
  r.set_answer("42");
  r.mutable_timings()->set_prefill_ms(3.5);
  const std::string j = to_json(r, false);
  CHECK(j.find("\"answer\":\"42\"") != std::string::npos);
  CHECK(j.find("\"prefill_ms\":3.5") != std::string::npos);
  CHECK(j.find("\"answer_tokens\"") != std::string::npos);  // zero fields are printed too
}

TEST_CASE("progress helpers keep UTF-8 intact and fit one line") {
  const std::string masked = "\xE2\x96\x91";  // U+2591, what the server shows for masks
  CHECK(one_line("ab\ncd", 10) == "ab cd");
  CHECK(one_line("x" + masked + masked + "y", 2) == "x" + masked);
  CHECK(one_line("", 5).empty());
  CHECK(progress_bar(5, 10, 10) == "[#####-----]");
  CHECK(progress_bar(12, 10, 4) == "[####]");
  CHECK(progress_bar(1, 0, 3) == "[---]");
}
