// Admission and final status (server/admission.h), one implementation for the gRPC and the
// OpenAI HTTP edge: the same refusals in the same order, the same final status for the same
// engine outcome. Where the two edges' copies used to disagree (a request cancelled by a
// second shutdown signal), both now say so.
#include "tests/common/catch.h"

#include "server/admission.h"
#include "server/prometheus.h"
#include "server/server_config.h"
#include "server/server_metrics.h"

using namespace shirg;
using namespace shirg::rpc;
using Catch::Matchers::ContainsSubstring;

namespace {

struct Context {
  Context() : metrics(registry), sc(config, metrics) {}
  ServerConfig config;
  prom::Registry registry;
  ServerMetrics metrics;
  ServiceContext sc;
};

}  // namespace

TEST_CASE("admission: token, then shutting down, then loading; worded per edge") {
  Context ctx;
  ServiceContext& sc = ctx.sc;
  sc.auth_token = "tok";
  Executor* ex = nullptr;
  for (Edge edge : {Edge::kGrpc, Edge::kHttp}) {
    sc.draining = true;  // the token is still checked first
    grpc::Status s = admit_call(sc, {}, edge, &ex);
    CHECK(s.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK_THAT(s.error_message(),
               ContainsSubstring(edge == Edge::kGrpc ? "send metadata \"authorization"
                                                     : "send the header \"Authorization"));
    s = admit_call(sc, {"Bearer tok", "Bearer tok"}, edge, &ex);
    CHECK(s.error_message() == "more than one authorization header");
    s = admit_call(sc, {"Bearer nope"}, edge, &ex);
    CHECK(s.error_message() == "invalid bearer token");
    s = admit_call(sc, {"Bearer tok"}, edge, &ex);
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(s.error_message() == "server is shutting down");
    sc.draining = false;
    s = admit_call(sc, {"Bearer tok"}, edge, &ex);  // no executor published yet
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(s.error_message(),
               ContainsSubstring(edge == Edge::kGrpc ? "health reports SERVING"
                                                     : "GET /health answers 200"));
    CHECK(ex == nullptr);
  }
}

TEST_CASE("final status: deadline, shutdown (grace period or second signal), client cancel") {
  Context ctx;
  ServiceContext& sc = ctx.sc;
  const Status cancelled{StatusCode::kCancelled, "request cancelled between denoising steps"};
  const auto past = SteadyClock::now() - std::chrono::milliseconds(1);
  const auto soon = SteadyClock::now() + std::chrono::milliseconds(500);
  const auto later = SteadyClock::now() + std::chrono::hours(1);

  CallEnd http;  // the HTTP edge: timeout_ms, no slack
  http.deadline_name = "timeout_ms";
  CallEnd grpc_end;  // the gRPC edge: 1 s of slack
  grpc_end.deadline_slack = std::chrono::seconds(1);

  http.deadline = past;
  grpc::Status s = final_status(cancelled, http, sc);
  CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(s.error_message() ==
        "deadline exceeded (timeout_ms: request cancelled between denoising steps)");
  http.deadline = soon;  // not passed: a cancel (no slack over HTTP)
  CHECK(final_status(cancelled, http, sc).error_code() == grpc::StatusCode::CANCELLED);
  grpc_end.deadline = soon;  // within the slack: the client's deadline
  s = final_status(cancelled, grpc_end, sc);
  CHECK(s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  CHECK(s.error_message() == "deadline exceeded (request cancelled between denoising steps)");

  // Shutdown: the same status and message on both edges, naming the cause.
  sc.draining = true;
  http.deadline = grpc_end.deadline = later;
  for (CallEnd* end : {&http, &grpc_end}) {
    s = final_status(cancelled, *end, sc);
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK_THAT(s.error_message(), ContainsSubstring("cancelled after the grace period"));
  }
  sc.forced_shutdown = true;
  for (CallEnd* end : {&http, &grpc_end}) {
    s = final_status(cancelled, *end, sc);
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(s.error_message() ==
          "server is shutting down: the request was cancelled by a second shutdown signal "
          "(request cancelled between denoising steps)");
    end->client_cancelled = true;  // the client's own cancel stays a cancel
    CHECK(final_status(cancelled, *end, sc).error_code() == grpc::StatusCode::CANCELLED);
  }
  // Anything else maps one to one.
  CHECK(final_status(Status{StatusCode::kInvalidArgument, "image: bad"}, http, sc).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(final_status(Status{}, http, sc).ok());
}
