#pragma once
// Admission and final status of a call, one implementation for both edges: the gRPC API
// (server/call_common.*) and the OpenAI HTTP API (server/openai/). Both refuse the same calls
// in the same order, and report a finished engine request with the same status; only the
// wording that names the edge's own mechanism (how a token is sent, how health is probed)
// differs.
#include <grpcpp/support/status.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api/status.h"
#include "server/service_context.h"

namespace shirg::rpc {

using SteadyClock = std::chrono::steady_clock;

enum class Edge { kGrpc, kHttp };

// Admission of a new call, in this order: UNAUTHENTICATED (--auth-token set and
// `authorization`, every value of the call's authorization metadata / Authorization headers,
// is not exactly one "Bearer <token>"), UNAVAILABLE "server is shutting down", UNAVAILABLE
// model loading or warming up. OK: *executor_out is the executor to enqueue on.
grpc::Status admit_call(const ServiceContext& sc,
                        const std::vector<std::string_view>& authorization, Edge edge,
                        Executor** executor_out);

// How a call ended, for final_status().
struct CallEnd {
  // The request's deadline (the gRPC deadline; HTTP: timeout_ms from arrival), if any.
  std::optional<SteadyClock::time_point> deadline;
  // A cancel this close to the deadline is the deadline: a gRPC client's library cancels the
  // call when its own copy of the deadline expires, before the server's copy. Zero where only
  // the server holds the deadline (HTTP timeout_ms).
  SteadyClock::duration deadline_slack{0};
  // The deadline's name in the message ("timeout_ms"); empty: none.
  std::string deadline_name;
  // The client cancelled the call or went away.
  bool client_cancelled = false;
};

// The status a client gets for a finished engine request. The engine says CANCELLED for three
// causes, told apart here: the deadline passed (or is within the slack) -> DEADLINE_EXCEEDED;
// the server is shutting down and cancelled it, and the client did not -> UNAVAILABLE, the
// message saying whether the grace period ran out or a second signal came; else CANCELLED.
// Every other status maps one to one (to_grpc).
grpc::Status final_status(const Status& engine_status, const CallEnd& end,
                          const ServiceContext& sc);

}  // namespace shirg::rpc
