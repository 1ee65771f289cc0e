#pragma once
// What every shirg.v1 call needs: configuration, metrics, the executor once the model is warm,
// and the server's lifecycle state. Owned by the server (server_app.cpp); outlives every call.
#include <atomic>
#include <cstdint>
#include <string>

#include "engine/runtime/executor.h"
#include "server/proto_convert.h"
#include "server/server_config.h"
#include "server/server_metrics.h"
#include "shirg/v1/inference.pb.h"

namespace shirg::rpc {

struct ServiceContext {
  ServiceContext(const ServerConfig& c, ServerMetrics& m) : config(c), metrics(m) {}

  const ServerConfig& config;
  ServerMetrics& metrics;
  EdgeLimits limits;
  std::string auth_token;  // empty: no authentication

  // Published (release) after load + warm-up; stays valid until every call has finished.
  std::atomic<Executor*> executor{nullptr};
  // Set on SIGTERM/SIGINT: new calls are refused with UNAVAILABLE.
  std::atomic<bool> draining{false};
  // Set on a second signal: in-flight calls were cancelled at once, not after the grace period.
  std::atomic<bool> forced_shutdown{false};

  // Filled before `executor` is published.
  v1::ModelInfoResponse model_info;
};

}  // namespace shirg::rpc
