#include "server/server_metrics.h"

namespace shirg::rpc {
namespace {

const std::vector<double>& request_buckets() {
  static const std::vector<double> b = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                        2.5,  5,     10,   30,  60,   120, 300};
  return b;
}

const std::vector<double>& stage_buckets() {
  static const std::vector<double> b = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
  return b;
}

}  // namespace

ServerMetrics::ServerMetrics(prom::Registry& r)
    : queue_depth(r.gauge("shirg_queue_depth", "Requests waiting in the executor queue.").with()),
      inflight(r.gauge("shirg_inflight_requests",
                       "Calls being served (shirg.v1 RPCs and OpenAI-API requests: queued, running "
                       "or streaming).")
                   .with()),
      prefix_cache_bytes(r.gauge("shirg_prefix_cache_bytes",
                                 "Bytes held by the prefix KV caches of running requests.")
                             .with()),
      model_info(r.gauge("shirg_model_info", "The loaded model (value 1).",
                         {"checkpoint", "model_type", "dtype", "device", "adapter", "version"})),
      ready(r.gauge("shirg_ready", "1 while the server reports SERVING, else 0.").with()),
      running_requests(r.gauge("shirg_running_requests",
                               "Generate requests holding a batching slot (prefix stages or "
                               "denoising steps).")
                           .with()),
      waiting_for_memory(r.gauge("shirg_requests_waiting_for_memory",
                                 "Requests whose prefix cache waits for room in the budget.")
                             .with()),
      cache_budget_bytes(r.gauge("shirg_prefix_cache_budget_bytes",
                                 "Prefix-cache memory budget of the running requests (0: none).")
                             .with()),
      cache_reserved_bytes(r.gauge("shirg_prefix_cache_reserved_bytes",
                                   "Prefix-cache bytes reserved by running requests (admission).")
                               .with()),
      step_holds_expired(r.counter("shirg_step_holds_expired_total",
                                   "prefix-first: denoising steps run because --max-hold-ms ran "
                                   "out while a prefix was computed.")
                             .with()),
      http_connections(
          r.gauge("shirg_http_connections", "Open connections of the OpenAI HTTP API.").with()),
      http_connections_dropped(r.counter(
          "shirg_http_connections_dropped_total",
          "HTTP API connections closed at the connection limit: evicted (an idle or slow-head "
          "one, to admit a new one) or refused (a new one, answered 429).",
          {"reason"})),
      http_refusals(r.counter("shirg_http_refusals_total",
                              "HTTP API requests the transport answered itself (limits, timeouts, "
                              "framing, routing), by HTTP status.",
                              {"status"})),
      requests_(r.counter("shirg_requests_total",
                          "Finished calls by method, gRPC status code and protocol (grpc: "
                          "shirg.v1, http: the OpenAI-compatible API).",
                          {"rpc", "code", "protocol"})),
      request_duration_(r.histogram("shirg_request_duration_seconds",
                                    "Wall time of calls from arrival to the final status.",
                                    {"rpc", "protocol"}, request_buckets())),
      stage_duration_(
          r.histogram("shirg_stage_duration_seconds",
                      "Engine stage latency (step: one denoising step; total: the whole request).",
                      {"stage"}, stage_buckets())),
      generated_tokens_(r.counter("shirg_generated_tokens_total",
                                  "Answer tokens returned (up to the stop token).")
                            .with()),
      batch_size_(r.histogram("shirg_batch_size",
                              "Requests advanced together by one batched denoising step.", {},
                              {1, 2, 3, 4, 6, 8, 12, 16, 32, 64})
                      .with()),
      device_memory_(r.gauge("shirg_device_memory_bytes",
                             "Memory of the device the model runs on (kind: allocated and "
                             "reserved by this process's tensors on a GPU; total and free).",
                             {"device", "kind"})) {
  for (const char* rpc : {kRpcGenerate, kRpcGenerateStream, kRpcModelInfo, kRpcSelectionMap}) {
    requests_.with({rpc, "OK", kProtocolGrpc});
    request_duration_.with({rpc, kProtocolGrpc});
  }
  for (const char* rpc : {kRpcChatCompletions, kRpcModels}) {
    requests_.with({rpc, "OK", kProtocolHttp});
    request_duration_.with({rpc, kProtocolHttp});
  }
  for (const char* s :
       {"queue", "decode", "vision", "selection", "projector", "prefill", "step", "total"})
    stage_duration_.with({s});
}

void ServerMetrics::record_request(const std::string& rpc, const std::string& code, double seconds,
                                   const std::string& protocol) {
  requests_.with({rpc, code, protocol}).inc();
  request_duration_.with({rpc, protocol}).observe(seconds);
}

void ServerMetrics::record_timings(const StageTimings& t) {
  auto obs = [&](const char* stage, double ms, bool always) {
    if (always || ms > 0) stage_duration_.with({stage}).observe(ms / 1000.0);
  };
  obs("queue", t.queue_ms, true);
  obs("decode", t.decode_ms, false);
  obs("vision", t.vision_ms, false);
  obs("selection", t.selection_ms, false);
  obs("projector", t.projector_ms, false);
  obs("prefill", t.prefill_ms, false);
  obs("total", t.total_ms, true);
}

void ServerMetrics::record_step(double seconds) {
  stage_duration_.with({"step"}).observe(seconds);
}

void ServerMetrics::add_generated_tokens(int64_t n) {
  if (n > 0) generated_tokens_.inc(static_cast<double>(n));
}

void ServerMetrics::record_batch(int64_t n) {
  batch_size_.observe(static_cast<double>(n));
}

void ServerMetrics::record_device_memory(const std::string& device, const DeviceMemory& m) {
  const std::pair<const char*, int64_t> kinds[] = {
      {"allocated", m.allocated}, {"reserved", m.reserved}, {"total", m.total}, {"free", m.free}};
  for (const auto& [kind, bytes] : kinds)
    if (bytes >= 0) device_memory_.with({device, kind}).set(static_cast<double>(bytes));
}

}  // namespace shirg::rpc
