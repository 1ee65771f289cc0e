// protobuf -> native conversion at the edge: every INVALID_ARGUMENT case, defaults, and the
// native -> protobuf direction.
#include "tests/common/catch.h"

#include <set>
#include <string>

#include "proto/grpc_status_name.h"
#include "server/proto_convert.h"
#include "server/test_pattern.h"

using namespace shirg;
using namespace shirg::rpc;
using Catch::Matchers::ContainsSubstring;

namespace {

v1::GenerateRequest valid_request() {
  v1::GenerateRequest r;
  static const std::string png = make_test_pattern_png(32, 24, 1);
  r.set_image(png);
  r.set_question("What is in the picture?");
  return r;
}

Status convert(const v1::GenerateRequest& r, GenerateRequest* out = nullptr, EdgeLimits lim = {}) {
  GenerateRequest tmp;
  return from_proto(r, lim, out ? out : &tmp);
}

// The message of an INVALID_ARGUMENT conversion (fails the test for any other outcome).
std::string invalid_message(const v1::GenerateRequest& r, EdgeLimits lim = {}) {
  const Status s = convert(r, nullptr, lim);
  CHECK(s.code == StatusCode::kInvalidArgument);
  return s.message;
}

}  // namespace

TEST_CASE("a minimal request gets the engine defaults") {
  GenerateRequest out;
  out.want_step_events = true;
  const Status s = convert(valid_request(), &out);
  REQUIRE(s.ok());
  CHECK(out.question == "What is in the picture?");
  CHECK(out.generation.gen_length == 32);
  CHECK(out.generation.block_length == 32);
  CHECK(out.generation.steps == 16);
  CHECK(out.generation.temperature == 0);
  CHECK(out.generation.remasking == Remasking::kLowConfidence);
  CHECK(out.generation.schedule == TransferSchedule::kUniform);
  CHECK(out.generation.seed == 0);
  CHECK(out.selection.mode == SelectionMode::kShirg);
  CHECK(out.selection.k == 1152);
  CHECK_FALSE(out.selection.adaptive_k);
  CHECK(out.want_step_events);  // fields the converter does not own are kept
}

TEST_CASE("an unset gen_length takes the model's default (generation_config.json max_new_tokens)") {
  CHECK(default_gen_length_for(std::nullopt, 1024) == 32);
  CHECK(default_gen_length_for(0, 1024) == 32);
  CHECK(default_gen_length_for(-5, 1024) == 32);
  CHECK(default_gen_length_for(8, 1024) == 8);
  CHECK(default_gen_length_for(4096, 1024) == 1024);  // clamped to --max-gen-length

  EdgeLimits lim;
  lim.default_gen_length = 8;
  GenerateRequest out;
  REQUIRE(convert(valid_request(), &out, lim).ok());
  CHECK(out.generation.gen_length == 8);
  CHECK(out.generation.block_length == 8);  // block_length follows the default too
  auto r = valid_request();
  r.mutable_generation()->set_gen_length(24);  // an explicit value wins
  REQUIRE(convert(r, &out, lim).ok());
  CHECK(out.generation.gen_length == 24);
}

TEST_CASE("every option is carried over") {
  auto r = valid_request();
  r.set_request_id("client-id_1.2:3");
  auto* g = r.mutable_generation();
  g->set_gen_length(64);
  g->set_block_length(16);
  g->set_steps(32);
  g->set_step_ratio(0.5);
  g->set_temperature(0.7);
  g->set_remasking(v1::REMASKING_ENTROPY);
  g->set_schedule(v1::SCHEDULE_SHIFT);
  g->set_shift(0.25);
  g->set_seed(UINT64_C(18446744073709551615));
  auto* s = r.mutable_selection();
  s->set_mode(v1::SELECTION_MODE_RANDOM_K);
  s->set_k(100);
  s->set_adaptive_k(true);
  s->set_k_min(50);
  s->set_k_max(200);
  s->set_query_aware(true);
  GenerateRequest out;
  REQUIRE(convert(r, &out).ok());
  CHECK(out.request_id == "client-id_1.2:3");
  CHECK(out.generation.gen_length == 64);
  CHECK(out.generation.block_length == 16);
  CHECK(out.generation.steps == 32);
  CHECK(out.generation.step_ratio == 0.5);
  CHECK(out.generation.temperature == 0.7);
  CHECK(out.generation.remasking == Remasking::kEntropy);
  CHECK(out.generation.schedule == TransferSchedule::kShift);
  CHECK(out.generation.shift == 0.25);
  CHECK(out.generation.seed == UINT64_C(18446744073709551615));
  CHECK(out.selection.mode == SelectionMode::kRandomK);
  CHECK(out.selection.k == 100);
  CHECK(out.selection.adaptive_k);
  CHECK(out.selection.k_min == 50);
  CHECK(out.selection.k_max == 200);
  CHECK(out.selection.query_aware);
  r.mutable_generation()->clear_step_ratio();
  r.mutable_generation()->set_steps_per_block(3);
  REQUIRE(convert(r, &out).ok());
  CHECK(out.generation.steps_per_block == 3);
  CHECK(GenerateRequest{}.generation.shift == 0.33);  // LaViDa's evaluation setting
}

TEST_CASE("every engine selection mode has its own proto value and converts back") {
  for (SelectionMode m : kAllSelectionModes) {
    INFO(selection_mode_name(m));
    CHECK(to_proto(m) != v1::SELECTION_MODE_UNSPECIFIED);
    auto r = valid_request();
    r.mutable_selection()->set_mode(to_proto(m));
    GenerateRequest out;
    REQUIRE(convert(r, &out).ok());
    CHECK(out.selection.mode == m);
  }
  CHECK(parse_selection_mode("lavida-384") == SelectionMode::kLavida384);
}

TEST_CASE("image validation") {
  auto r = valid_request();
  r.clear_image();
  CHECK_THAT(invalid_message(r), ContainsSubstring("image is empty"));
  r.set_image("GIF89a.....");
  CHECK_THAT(invalid_message(r),
             ContainsSubstring("neither JPEG nor PNG (first bytes: 47 49 46 38 39 61 2e 2e)"));
  r.set_image(std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'x'));
  CHECK(convert(r).ok());  // JPEG magic passes the edge; decoding is the engine's job
  EdgeLimits small;
  small.max_image_bytes = 50;
  CHECK_THAT(invalid_message(r, small), ContainsSubstring("image is 104 bytes, the limit is 50"));
}

TEST_CASE("question validation") {
  auto r = valid_request();
  r.set_question("");
  CHECK_THAT(invalid_message(r), ContainsSubstring("question is empty"));
  r.set_question(" \t\n ");
  CHECK_THAT(invalid_message(r), ContainsSubstring("question is empty"));
  r.set_question(std::string(9000, 'a'));
  CHECK_THAT(invalid_message(r), ContainsSubstring("question is 9000 bytes, the limit is 8192"));
  r.set_question("bad \xC3\x28 utf8");
  CHECK_THAT(invalid_message(r), ContainsSubstring("question is not valid UTF-8"));
  r.set_question("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");  // é € 😀
  CHECK(convert(r).ok());
}

TEST_CASE("generation option ranges") {
  auto check = [](auto set, const std::string& expected) {
    auto r = valid_request();
    set(*r.mutable_generation());
    CHECK_THAT(invalid_message(r), ContainsSubstring(expected));
  };
  check([](v1::GenerationOptions& g) { g.set_gen_length(0); },
        "generation.gen_length must be in [1, 1024], got 0");
  check([](v1::GenerationOptions& g) { g.set_gen_length(2000); },
        "generation.gen_length must be in [1, 1024], got 2000");
  check([](v1::GenerationOptions& g) { g.set_block_length(0); },
        "generation.block_length must be in [1, 32], got 0");
  check([](v1::GenerationOptions& g) { g.set_block_length(64); },
        "generation.block_length must be in [1, 32], got 64");
  check([](v1::GenerationOptions& g) { g.set_block_length(5); },
        "generation.block_length (5) must divide gen_length (32)");
  check([](v1::GenerationOptions& g) { g.set_steps(0); },
        "generation.steps must be in [1, 1024], got 0");
  check([](v1::GenerationOptions& g) { g.set_steps(-4); },
        "generation.steps must be in [1, 1024], got -4");
  check([](v1::GenerationOptions& g) { g.set_step_ratio(0); },
        "generation.step_ratio must be in (0, 64]");
  check([](v1::GenerationOptions& g) { g.set_step_ratio(1e9); },
        "generation.step_ratio must be in (0, 64]");
  check([](v1::GenerationOptions& g) { g.set_steps_per_block(0); },
        "generation.steps_per_block must be in [1, 32], got 0");
  check([](v1::GenerationOptions& g) { g.set_steps_per_block(33); },
        "generation.steps_per_block must be in [1, 32], got 33");
  check(
      [](v1::GenerationOptions& g) {
        g.set_steps_per_block(4);
        g.set_step_ratio(0.5);
      },
      "set at most one of step_ratio and steps_per_block");
  check([](v1::GenerationOptions& g) { g.set_temperature(-0.1); },
        "generation.temperature must be in [0, 100], got -0.1");
  check([](v1::GenerationOptions& g) { g.set_temperature(NAN); },
        "generation.temperature must be in [0, 100], got nan");
  check([](v1::GenerationOptions& g) { g.set_temperature(INFINITY); },
        "generation.temperature must be in [0, 100]");
  check([](v1::GenerationOptions& g) { g.set_shift(0); },
        "generation.shift must be in (0, 100], got 0");
  check([](v1::GenerationOptions& g) { g.set_remasking(static_cast<v1::Remasking>(17)); },
        "generation.remasking: unknown value 17");
  check([](v1::GenerationOptions& g) { g.set_schedule(static_cast<v1::Schedule>(9)); },
        "generation.schedule: unknown value 9");
  EdgeLimits lim;
  lim.max_gen_length = 16;
  lim.max_steps = 8;
  auto r = valid_request();
  r.mutable_generation()->set_gen_length(16);
  r.mutable_generation()->set_steps(9);
  CHECK_THAT(invalid_message(r, lim),
             ContainsSubstring("generation.steps must be in [1, 8], got 9"));
}

TEST_CASE("selection option ranges") {
  auto check = [](auto set, const std::string& expected) {
    auto r = valid_request();
    set(*r.mutable_selection());
    CHECK_THAT(invalid_message(r), ContainsSubstring(expected));
  };
  check([](v1::SelectionOptions& s) { s.set_k(0); }, "selection.k must be in [1, 2304], got 0");
  check([](v1::SelectionOptions& s) { s.set_k(2305); },
        "selection.k must be in [1, 2304], got 2305");
  check([](v1::SelectionOptions& s) { s.set_mode(static_cast<v1::SelectionMode>(42)); },
        "selection.mode: unknown value 42");
  check([](v1::SelectionOptions& s) { s.set_k_min(0); },
        "selection.k_min must be in [1, 2304], got 0");
  check([](v1::SelectionOptions& s) { s.set_k_max(5000); },
        "selection.k_max must be in [1, 2304], got 5000");
  check(
      [](v1::SelectionOptions& s) {
        s.set_adaptive_k(true);
        s.set_k_min(900);
        s.set_k_max(800);
      },
      "selection.k_min (900) must not exceed selection.k_max (800)");
}

TEST_CASE("request ids") {
  auto r = valid_request();
  r.set_request_id("has space");
  CHECK_THAT(invalid_message(r), ContainsSubstring("request_id must be 1-128 characters"));
  r.set_request_id(std::string(129, 'a'));
  CHECK_THAT(invalid_message(r), ContainsSubstring("request_id"));
  const std::string a = make_request_id(), b = make_request_id();
  CHECK(a != b);
  CHECK(a.size() == 20);
  CHECK(a.rfind("req-", 0) == 0);
  CHECK(is_valid_request_id(a));
}

TEST_CASE("selection map requests") {
  v1::SelectionMapRequest r;
  r.set_image(make_test_pattern_png(16, 16, 2));
  SelectionMapRequest out;
  REQUIRE(from_proto(r, EdgeLimits{}, &out).ok());  // no question needed without query_aware
  CHECK(out.selection.mode == SelectionMode::kShirg);
  r.mutable_selection()->set_query_aware(true);
  Status s = from_proto(r, EdgeLimits{}, &out);
  CHECK(s.code == StatusCode::kInvalidArgument);
  CHECK_THAT(s.message,
             ContainsSubstring("question is required when selection.query_aware is true"));
  r.set_question("where is the sign?");
  CHECK(from_proto(r, EdgeLimits{}, &out).ok());
  CHECK(out.question == "where is the sign?");
  for (auto mode : {v1::SELECTION_MODE_BASELINE_384, v1::SELECTION_MODE_LAVIDA_384}) {
    r.mutable_selection()->set_mode(mode);
    s = from_proto(r, EdgeLimits{}, &out);
    CHECK(s.code == StatusCode::kInvalidArgument);
    CHECK_THAT(s.message, ContainsSubstring("SelectionMap needs a SHIRG selection mode"));
  }
  r.clear_image();
  r.mutable_selection()->set_mode(v1::SELECTION_MODE_SHIRG);
  CHECK_THAT(from_proto(r, EdgeLimits{}, &out).message, ContainsSubstring("image is empty"));
}

TEST_CASE("results and events convert to protobuf") {
  GenerateResult res;
  res.answer = "a red square";
  res.answer_ids = {5, 6, 7};
  res.stop_reason = StopReason::kStopToken;
  res.prefix_tokens = 300;
  res.cache_bytes = 12345;
  res.steps_run = 8;
  res.selection.scaffold_tokens = 64;
  res.selection.hi_detail_tokens = 100;
  res.selection.visual_tokens = 164;
  res.selection.candidate_tokens = 2304;
  res.timings.queue_ms = 1.5;
  res.timings.total_ms = 99;
  v1::GenerateResponse p;
  to_proto("req-1", res, &p);
  CHECK(p.request_id() == "req-1");
  CHECK(p.answer() == "a red square");
  CHECK(p.answer_tokens() == 3);
  CHECK(p.stop_reason() == v1::STOP_REASON_STOP_TOKEN);
  CHECK(p.prefix_tokens() == 300);
  CHECK(p.cache_bytes() == 12345);
  CHECK(p.steps() == 8);
  CHECK(p.selection().scaffold_tokens() == 64);
  CHECK(p.selection().visual_tokens() == 164);
  CHECK(p.selection().candidate_tokens() == 2304);
  CHECK(p.timings().queue_ms() == 1.5);
  CHECK(p.timings().total_ms() == 99);
  res.stop_reason = StopReason::kLength;
  to_proto("req-1", res, &p);
  CHECK(p.stop_reason() == v1::STOP_REASON_LENGTH);

  PrefixReadyEvent pr;
  pr.prefix_tokens = 300;
  pr.cache_bytes = 12345;
  pr.selection.visual_tokens = 164;
  pr.timings.prefill_ms = 7.5;
  v1::PrefixReadyEvent ppr;
  to_proto(pr, &ppr);
  CHECK(ppr.prefix_tokens() == 300);
  CHECK(ppr.cache_bytes() == 12345);
  CHECK(ppr.selection().visual_tokens() == 164);
  CHECK(ppr.timings().prefill_ms() == 7.5);

  StepEvent st{3, 8, "a \u2591\u2591", 5};
  v1::StepEvent ps;
  to_proto(st, &ps);
  CHECK(ps.step() == 3);
  CHECK(ps.total_steps() == 8);
  CHECK(ps.partial_answer() == "a \u2591\u2591");
  CHECK(ps.committed_tokens() == 5);

  SelectionMapResult sm;
  sm.grid = 48;
  sm.kept_indices = {1, 5, 9};
  sm.scores = {0.5f, 0.25f};
  sm.overlay_png = "\x89PNG";
  sm.scaffold_tokens = 64;
  v1::SelectionMapResponse psm;
  to_proto(sm, &psm);
  CHECK(psm.grid() == 48);
  CHECK(std::vector<int64_t>(psm.kept_indices().begin(), psm.kept_indices().end()) ==
        sm.kept_indices);
  CHECK(std::vector<float>(psm.scores().begin(), psm.scores().end()) == sm.scores);
  CHECK(psm.overlay_png() == "\x89PNG");
}

TEST_CASE("engine status codes map one to one onto gRPC codes") {
  CHECK(to_grpc(Status::Ok()).ok());
  const std::pair<StatusCode, grpc::StatusCode> pairs[] = {
      {StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE}};
  for (auto [engine, rpc] : pairs) {
    const grpc::Status g = to_grpc(Status::Error(engine, "why"));
    CHECK(g.error_code() == rpc);
    CHECK(g.error_message() == "why");
  }
  CHECK(grpc_status_name(grpc::StatusCode::RESOURCE_EXHAUSTED) == "RESOURCE_EXHAUSTED");
  CHECK(grpc_status_name(grpc::StatusCode::UNAUTHENTICATED) == "UNAUTHENTICATED");
}

TEST_CASE("every canonical gRPC code has its own upper-case name") {
  std::set<std::string> names;
  for (int c = 0; c <= 16; ++c) {
    const std::string n = grpc_status_name(static_cast<grpc::StatusCode>(c));
    CHECK(n.rfind("CODE_", 0) == std::string::npos);
    CHECK(n.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == std::string::npos);
    names.insert(n);
  }
  CHECK(names.size() == 17);
  CHECK(grpc_status_name(grpc::StatusCode::OK) == "OK");
  CHECK(grpc_status_name(grpc::StatusCode::DEADLINE_EXCEEDED) == "DEADLINE_EXCEEDED");
  CHECK(grpc_status_name(static_cast<grpc::StatusCode>(99)) == "CODE_99");
}
