#include "server/admission.h"

#include "server/auth.h"
#include "server/proto_convert.h"

namespace shirg::rpc {

grpc::Status admit_call(const ServiceContext& sc,
                        const std::vector<std::string_view>& authorization, Edge edge,
                        Executor** executor_out) {
  if (grpc::Status s = check_bearer_token(authorization, sc.auth_token); !s.ok()) {
    // check_bearer_token words a missing token for gRPC metadata.
    if (edge == Edge::kGrpc || s.error_message().rfind("missing credentials", 0) != 0) return s;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing credentials: send the header \"Authorization: Bearer <token>\"");
  }
  if (sc.draining.load())
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down");
  Executor* ex = sc.executor.load(std::memory_order_acquire);
  if (!ex)
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        edge == Edge::kGrpc ? "model is loading or warming up; retry when health "
                                              "reports SERVING"
                                            : "model is loading or warming up; retry when GET "
                                              "/health answers 200");
  *executor_out = ex;
  return grpc::Status::OK;
}

grpc::Status final_status(const Status& s, const CallEnd& end, const ServiceContext& sc) {
  if (s.code == StatusCode::kCancelled) {
    if (end.deadline && *end.deadline <= SteadyClock::now() + end.deadline_slack)
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "deadline exceeded (" +
                              (end.deadline_name.empty() ? "" : end.deadline_name + ": ") +
                              s.message + ")");
    if (sc.draining.load() && !end.client_cancelled)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string("server is shutting down: the request was cancelled ") +
                              (sc.forced_shutdown.load() ? "by a second shutdown signal"
                                                         : "after the grace period") +
                              " (" + s.message + ")");
  }
  return to_grpc(s);
}

}  // namespace shirg::rpc
