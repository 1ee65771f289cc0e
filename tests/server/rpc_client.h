#pragma once
// Small synchronous clients for the integration tests: shirg.v1 calls, health, reflection and
// the metrics endpoint.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "shirg/v1/inference.grpc.pb.h"

namespace shirg::testing {

struct CallOptions {
  std::optional<std::chrono::milliseconds> timeout;  // none: a 120 s guard against hangs
  std::string token;                                 // sent as "authorization: Bearer <token>"
};

struct UnaryResult {
  grpc::Status status;
  v1::GenerateResponse response;
  std::string request_id_metadata;  // the server's x-request-id initial metadata
};

struct StreamResult {
  grpc::Status status;
  std::vector<v1::GenerateEvent> events;
  std::optional<v1::GenerateResponse> result;  // the final event's result, if any
};

void prepare(grpc::ClientContext& ctx, const CallOptions& o);

UnaryResult generate(grpc::Channel& ch, const v1::GenerateRequest& req, const CallOptions& o = {});
// `on_event` may call ctx.TryCancel() through the given context (return false to cancel).
StreamResult generate_stream(
    grpc::Channel& ch, const v1::GenerateRequest& req, const CallOptions& o = {},
    const std::function<bool(const v1::GenerateEvent&)>& on_event = nullptr);

// grpc.health.v1 Check; nullopt when the RPC itself fails.
std::optional<grpc::health::v1::HealthCheckResponse::ServingStatus> health_check(
    grpc::Channel& ch, const std::string& service = "");

// Service names listed by server reflection (grpc.reflection.v1alpha).
std::vector<std::string> reflection_services(grpc::Channel& ch);
// The name of the file that defines `symbol`, via reflection ("" when not found).
std::string reflection_file_of(grpc::Channel& ch, const std::string& symbol);

// GET http://127.0.0.1:port/metrics; throws std::runtime_error on failure.
std::string fetch_metrics(int port);

// A request for the tiny model: a test-pattern PNG (image_seed), a question, generation options.
v1::GenerateRequest make_request(uint32_t image_seed, uint64_t seed, int64_t gen_length,
                                 int64_t steps,
                                 const std::string& question = "What is in this picture?");

}  // namespace shirg::testing
