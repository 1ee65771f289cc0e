#include "server/server_app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "engine/model/model.h"
#include "engine/platform/device_memory.h"
#include "engine/platform/kernels.h"
#include "engine/runtime/cache_budget.h"
#include "engine/runtime/executor.h"
#include "server/inference_service.h"
#include "server/logging.h"
#include "server/metrics_http.h"
#include "server/model_setup.h"
#include "server/openai/http_api.h"
#include "server/parse_failure.h"
#include "server/process_metrics.h"
#include "server/prometheus.h"
#include "server/server_metrics.h"
#include "server/service_context.h"
#include "server/signal_watcher.h"
#include "server/warmup.h"

#ifndef SHIRG_VERSION
#define SHIRG_VERSION "0.0.0"
#endif

namespace shirg::rpc {
namespace {

constexpr const char* kServiceName = "shirg.v1.Inference";

std::string read_pem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + what + " '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN") == std::string::npos)
    throw std::runtime_error(std::string(what) + " '" + path + "' is not a PEM file");
  return ss.str();
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const ServerConfig& c) {
  if (c.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back(
      {read_pem(c.tls_key, "--tls-key"), read_pem(c.tls_cert, "--tls-cert")});
  return grpc::SslServerCredentials(opts);
}

void write_port_file(const std::string& path, int grpc_port, int metrics_port, int http_port) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write --port-file '" + path + "'");
    out << "grpc=" << grpc_port << "\nmetrics=" << metrics_port << "\n";
    if (http_port >= 0) out << "http=" << http_port << "\n";
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot write --port-file '" + path + "'");
}

void set_health(grpc::Server& server, bool serving) {
  if (auto* h = server.GetHealthCheckService()) {
    h->SetServingStatus("", serving);
    h->SetServingStatus(kServiceName, serving);
  }
}

std::string host_port(const std::string& host, int port) {
  // IPv6 literals need brackets.
  if (host.find(':') != std::string::npos && host.front() != '[')
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace

int run_server(const ServerConfig& cfg) {
  SignalWatcher signals;  // before any other thread exists
  setup_logging(cfg.log_format == "json" ? LogFormat::kJson : LogFormat::kText, cfg.log_level);
  spdlog::info(
      "shirg-server {} starting (model {}, dtype {}, workers {}, max batch {}, schedule {}, max "
      "queue {})",
      SHIRG_VERSION, cfg.model_dir, cfg.dtype, cfg.workers, cfg.max_batch, cfg.schedule,
      cfg.max_queue);

  prom::Registry registry;
  ServerMetrics metrics(registry);
  add_process_metrics(registry);
  ServiceContext sc(cfg, metrics);
  static_cast<RequestLimits&>(sc.limits) = cfg.request_limits();
  sc.auth_token = cfg.auth_token;
  // The OpenAI-compatible API (--http-port); its transport's stats are read at scrape.
  std::unique_ptr<openai::HttpApiServer> http_api;
  registry.add_collector([&http_api, &metrics] {
    if (!http_api) return;
    const http::HttpServerStats st = http_api->stats();
    metrics.http_connections.set(static_cast<double>(st.open_connections));
    metrics.http_connections_dropped.with({"evicted"})
        .advance_to(static_cast<double>(st.connections_evicted));
    metrics.http_connections_dropped.with({"refused"})
        .advance_to(static_cast<double>(st.connections_refused));
    for (const auto& [status, n] : st.refusals)
      metrics.http_refusals.with({std::to_string(status)}).advance_to(static_cast<double>(n));
  });
  // The model's device memory: set before the executor is published (release), read at scrapes
  // once it is (acquire).
  DeviceMemorySource device_memory;
  registry.add_collector([&sc, &metrics, &device_memory] {
    Executor* ex = sc.executor.load(std::memory_order_acquire);
    if (ex && device_memory) metrics.record_device_memory(sc.model_info.device(), device_memory());
    const ExecutorStats st = ex ? ex->stats() : ExecutorStats{};
    metrics.queue_depth.set(static_cast<double>(st.queued));
    metrics.running_requests.set(static_cast<double>(st.stepping));
    metrics.waiting_for_memory.set(static_cast<double>(st.waiting_for_memory));
    metrics.cache_budget_bytes.set(static_cast<double>(st.cache_budget_bytes));
    metrics.cache_reserved_bytes.set(static_cast<double>(st.cache_bytes_in_use));
    metrics.step_holds_expired.advance_to(static_cast<double>(st.holds_expired));
  });

  // Declared before the gRPC server: destroyed after it, so every call has finished by then.
  std::unique_ptr<Executor> executor;

  std::unique_ptr<MetricsHttpServer> http;
  int metrics_port = -1;
  int http_api_port = -1;
  std::shared_ptr<grpc::ServerCredentials> creds;
  try {
    creds = server_credentials(cfg);
    if (cfg.metrics_port >= 0) {
      http = std::make_unique<MetricsHttpServer>([&registry] { return registry.render(); });
      metrics_port =
          http->start(cfg.metrics_host.empty() ? cfg.host : cfg.metrics_host, cfg.metrics_port);
    }
    if (cfg.http_port >= 0) {
      http_api = std::make_unique<openai::HttpApiServer>(sc);
      http_api_port = http_api->start(cfg.host, cfg.http_port);
    }
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return 1;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  InferenceService service(sc);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(host_port(cfg.host, cfg.port), creds, &grpc_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(cfg.max_receive_mib << 20));
  builder.RegisterService(&service);
  builder.experimental().SetInterceptorCreators(parse_failure_interceptors(metrics));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || grpc_port == 0) {
    spdlog::critical("start-up failed: cannot listen on {}", host_port(cfg.host, cfg.port));
    return 1;
  }
  set_health(*server, false);
  // Every shirg.v1 call has its final status by the time this runs (or none was admitted), so
  // the gRPC server stops at once: waiting would only wait for open health Watch streams, which
  // never end on their own. Calls still sending their last bytes get up to 5 s first.
  auto stop_server = [&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    // (Also after a second signal: the calls were cancelled already and only finish sending.)
    while (metrics.inflight.value() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (auto* h = server->GetHealthCheckService()) h->Shutdown();
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    if (http_api) http_api->stop();
    if (http) http->stop();
  };
  try {
    write_port_file(cfg.port_file, grpc_port, metrics_port, http_api_port);
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    stop_server();
    return 1;
  }
  spdlog::info("gRPC listening on {} ({}{}), metrics on port {}", host_port(cfg.host, grpc_port),
               cfg.tls_cert.empty() ? "plaintext" : "TLS",
               cfg.auth_token.empty() ? "" : ", bearer token required", metrics_port);
  if (http_api)
    spdlog::info("OpenAI-compatible HTTP API on {} ({})", host_port(cfg.host, http_api_port),
                 cfg.tls_cert.empty() ? "plain HTTP" : "HTTPS");

  // Model, executor, warm-up. Health stays NOT_SERVING until all three are done.
  const int threads = set_torch_threads(cfg.threads);
  std::shared_ptr<const Model> model;
  try {
    model = load_model_for_server(cfg);
  } catch (const std::exception& e) {
    spdlog::critical("cannot load the model from '{}': {}", cfg.model_dir, e.what());
    stop_server();
    return 1;
  }
  spdlog::info("model loaded on {} ({} kernels, {} LibTorch threads):", model->device.str(),
               kernels_name(model->kernels), threads);
  {  // one log line per line of the summary (text logs escape line breaks)
    std::istringstream summary(model_summary_text(*model));
    for (std::string line; std::getline(summary, line);) spdlog::info("  {}", line);
  }
  device_memory = device_memory_source(model->device);
  sc.model_info = describe_model(*model, cfg);
  sc.limits.max_k = model->config.hires_tokens();
  sc.limits.default_gen_length =
      default_gen_length_for(model->generation_defaults.max_new_tokens, cfg.max_gen_length);
  metrics.model_info
      .with({sc.model_info.checkpoint(), sc.model_info.model_type(), sc.model_info.dtype(),
             sc.model_info.device(), cfg.adapter_dir, SHIRG_VERSION})
      .set(1);

  ExecutorConfig ec;
  ec.workers = cfg.workers;
  ec.max_batch = cfg.max_batch;
  ec.schedule =
      cfg.schedule == "prefix-first" ? StepSchedule::kPrefixFirst : StepSchedule::kInterleave;
  ec.max_hold = std::chrono::milliseconds(cfg.max_hold_ms);
  const CacheBudget budget = choose_cache_budget(cfg.cache_budget_mib, device_memory);
  spdlog::info("prefix-cache budget: {}", budget.reason);
  ec.cache_budget_bytes = budget.bytes;
  ec.on_batch_step = [&metrics](int64_t n) { metrics.record_batch(n); };
  ec.max_queue = static_cast<std::size_t>(cfg.max_queue);
  ec.limits = cfg.request_limits();
  ec.cache_dtype = cfg.cache_dtype == "fp32" ? kv::CacheDType::kFp32 : kv::CacheDType::kBf16;
  executor = std::make_unique<Executor>(model, ec);

  if (cfg.warmup && signals.count() == 0) {
    const Status s =
        run_warmup(*executor, cfg.warmup_requests, [&signals] { return signals.count() > 0; });
    if (!s.ok() && signals.count() == 0) {
      spdlog::critical("warm-up failed: {}: {}", status_code_name(s.code), s.message);
      executor->shutdown(std::chrono::milliseconds(0));
      stop_server();
      return 1;
    }
  }
  if (signals.count() == 0) {
    sc.executor.store(executor.get(), std::memory_order_release);
    set_health(*server, true);
    metrics.ready.set(1);
    spdlog::info("SERVING");
    signals.wait(1);
  }

  // Graceful shutdown.
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(cfg.grace_period_seconds));
  spdlog::info("shutdown requested: NOT_SERVING, draining {} in-flight request(s) for up to {} ms",
               static_cast<int64_t>(metrics.inflight.value()), grace.count());
  sc.draining.store(true);
  set_health(*server, false);
  metrics.ready.set(0);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (metrics.inflight.value() > 0 && signals.count() < 2 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (signals.count() >= 2) sc.forced_shutdown.store(true);
  if (metrics.inflight.value() > 0)
    spdlog::warn("cancelling {} request(s) still in flight{}",
                 static_cast<int64_t>(metrics.inflight.value()),
                 signals.count() >= 2 ? " (second signal)" : " (grace period over)");
  executor->shutdown(std::chrono::milliseconds(0));  // cancels the rest; every call gets on_done
  stop_server();
  spdlog::info("stopped");
  return 0;
}

}  // namespace shirg::rpc
