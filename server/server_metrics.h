#pragma once
// The server's Prometheus metrics (names fixed in docs/architecture.md, listed in
// docs/server.md). Durations are observed in seconds.
#include <string>

#include "engine/api/request.h"
#include "engine/platform/device_memory.h"
#include "server/prometheus.h"

namespace shirg::rpc {

// The RPC names used as the `rpc` label.
inline constexpr const char* kRpcGenerate = "Generate";
inline constexpr const char* kRpcGenerateStream = "GenerateStream";
inline constexpr const char* kRpcModelInfo = "ModelInfo";
inline constexpr const char* kRpcSelectionMap = "SelectionMap";
// The OpenAI-compatible HTTP API (server/openai/): POST /v1/chat/completions (streaming or not)
// and GET /v1/models.
inline constexpr const char* kRpcChatCompletions = "ChatCompletions";
inline constexpr const char* kRpcModels = "Models";
// The `protocol` label.
inline constexpr const char* kProtocolGrpc = "grpc";
inline constexpr const char* kProtocolHttp = "http";

class ServerMetrics {
 public:
  explicit ServerMetrics(prom::Registry& registry);

  // One finished call: shirg_requests_total{rpc,code,protocol} and
  // shirg_request_duration_seconds{rpc,protocol}. `code` is the gRPC status name on both
  // protocols (an HTTP answer's status maps from it: docs/server.md).
  void record_request(const std::string& rpc, const std::string& code, double seconds,
                      const std::string& protocol = kProtocolGrpc);
  // The engine stages of one finished request (milliseconds in, seconds observed); zero stages
  // a mode does not have (e.g. selection in baseline-384) are skipped, queue and total never.
  void record_timings(const StageTimings& t);
  // One denoising step's wall time.
  void record_step(double seconds);
  void add_generated_tokens(int64_t n);
  // One batched denoising step of the engine loop with `n` requests (shirg_batch_size).
  void record_batch(int64_t n);
  // The model device's memory now (set at scrape): shirg_device_memory_bytes{device, kind} with
  // kind allocated | reserved | total | free; a kind the device does not report (-1) is left out.
  void record_device_memory(const std::string& device, const DeviceMemory& m);

  prom::Gauge& queue_depth;               // shirg_queue_depth (set at scrape from the executor)
  prom::Gauge& inflight;                  // shirg_inflight_requests (RPCs being served)
  prom::Gauge& prefix_cache_bytes;        // shirg_prefix_cache_bytes (prefix caches alive now)
  prom::Family<prom::Gauge>& model_info;  // shirg_model_info{...} 1
  prom::Gauge& ready;                     // shirg_ready: 1 while health is SERVING
  // Set at scrape from the executor:
  prom::Gauge& running_requests;      // shirg_running_requests (holding a batching slot)
  prom::Gauge& waiting_for_memory;    // shirg_requests_waiting_for_memory
  prom::Gauge& cache_budget_bytes;    // shirg_prefix_cache_budget_bytes (0: no limit)
  prom::Gauge& cache_reserved_bytes;  // shirg_prefix_cache_reserved_bytes
  prom::Counter& step_holds_expired;  // shirg_step_holds_expired_total (--max-hold-ms)
  // The OpenAI HTTP API's transport (set at scrape from its stats):
  prom::Gauge& http_connections;                          // shirg_http_connections
  prom::Family<prom::Counter>& http_connections_dropped;  // ..._dropped_total{reason}
  prom::Family<prom::Counter>& http_refusals;             // shirg_http_refusals_total{status}

 private:
  prom::Family<prom::Counter>& requests_;
  prom::Family<prom::Histogram>& request_duration_;
  prom::Family<prom::Histogram>& stage_duration_;
  prom::Counter& generated_tokens_;
  prom::Histogram& batch_size_;
  prom::Family<prom::Gauge>& device_memory_;
};

}  // namespace shirg::rpc
