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

ExecutorConfig executor_config(const ServerConfig& cfg, const DeviceMemorySource& memory,
                               ServerMetrics& metrics) {
  ExecutorConfig ec;
  ec.workers = cfg.workers;
  ec.max_batch = cfg.max_batch;
  ec.schedule =
      cfg.schedule == "prefix-first" ? StepSchedule::kPrefixFirst : StepSchedule::kInterleave;
  ec.max_hold = std::chrono::milliseconds(cfg.max_hold_ms);
  const CacheBudget budget = choose_cache_budget(cfg.cache_budget_mib, memory);
  spdlog::info("prefix-cache budget: {}", budget.reason);
  ec.cache_budget_bytes = budget.bytes;
  ec.on_batch_step = [&metrics](int64_t n) { metrics.record_batch(n); };
  ec.max_queue = static_cast<std::size_t>(cfg.max_queue);
  ec.limits = cfg.request_limits();
  ec.cache_dtype = cfg.cache_dtype == "fp32" ? kv::CacheDType::kFp32 : kv::CacheDType::kBf16;
  return ec;
}

// One server process: its endpoints, model and executor, started and stopped in named steps.
// Members are destroyed in reverse order: the gRPC server before the service and the executor,
// so every call has finished by then.
class ServerProcess {
 public:
  ServerProcess(const ServerConfig& cfg, SignalWatcher& signals)
      : cfg_(cfg), signals_(signals), metrics_(registry_), sc_(cfg, metrics_) {
    add_process_metrics(registry_);
    static_cast<RequestLimits&>(sc_.limits) = cfg.request_limits();
    sc_.auth_token = cfg.auth_token;
    add_collectors();
  }

  // Metrics endpoint, HTTP API, gRPC server (health NOT_SERVING), --port-file. False: logged.
  bool start_endpoints();
  // LibTorch threads, the model, its description in metrics and ModelInfo. False: logged.
  bool load_model();
  // The executor and the warm-up requests. False: logged.
  bool start_executor();
  // SERVING until the first shutdown signal (returns at once if one came during start-up).
  void serve();
  // NOT_SERVING, in-flight calls drained for the grace period (a second signal ends the wait),
  // the rest cancelled, endpoints stopped.
  void shut_down();
  // Stops the endpoints; calls still sending their last bytes get up to 5 s first.
  void stop_endpoints();

 private:
  void add_collectors();

  const ServerConfig& cfg_;
  SignalWatcher& signals_;
  prom::Registry registry_;
  ServerMetrics metrics_;
  ServiceContext sc_;
  std::unique_ptr<openai::HttpApiServer> http_api_;  // --http-port
  // The model's device memory: set before the executor is published (release), read at scrapes
  // once it is (acquire).
  DeviceMemorySource device_memory_;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<InferenceService> service_;
  std::unique_ptr<grpc::Server> grpc_;
};

void ServerProcess::add_collectors() {
  registry_.add_collector([this] {
    if (!http_api_) return;
    const http::HttpServerStats st = http_api_->stats();
    metrics_.http_connections.set(static_cast<double>(st.open_connections));
    metrics_.http_connections_dropped.with({"evicted"})
        .advance_to(static_cast<double>(st.connections_evicted));
    metrics_.http_connections_dropped.with({"refused"})
        .advance_to(static_cast<double>(st.connections_refused));
    for (const auto& [status, n] : st.refusals)
      metrics_.http_refusals.with({std::to_string(status)}).advance_to(static_cast<double>(n));
  });
  registry_.add_collector([this] {
    Executor* ex = sc_.executor.load(std::memory_order_acquire);
    if (ex && device_memory_)
      metrics_.record_device_memory(sc_.model_info.device(), device_memory_());
    const ExecutorStats st = ex ? ex->stats() : ExecutorStats{};
    metrics_.queue_depth.set(static_cast<double>(st.queued));
    metrics_.running_requests.set(static_cast<double>(st.stepping));
    metrics_.waiting_for_memory.set(static_cast<double>(st.waiting_for_memory));
    metrics_.cache_budget_bytes.set(static_cast<double>(st.cache_budget_bytes));
    metrics_.cache_reserved_bytes.set(static_cast<double>(st.cache_bytes_in_use));
    metrics_.step_holds_expired.advance_to(static_cast<double>(st.holds_expired));
  });
}

bool ServerProcess::start_endpoints() {
  int metrics_port = -1, http_api_port = -1;
  std::shared_ptr<grpc::ServerCredentials> creds;
  try {
    creds = server_credentials(cfg_);
    if (cfg_.metrics_port >= 0) {
      metrics_http_ = std::make_unique<MetricsHttpServer>([this] { return registry_.render(); });
      metrics_port = metrics_http_->start(cfg_.metrics_host.empty() ? cfg_.host : cfg_.metrics_host,
                                          cfg_.metrics_port);
    }
    if (cfg_.http_port >= 0) {
      http_api_ = std::make_unique<openai::HttpApiServer>(sc_);
      http_api_port = http_api_->start(cfg_.host, cfg_.http_port);
    }
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return false;
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  service_ = std::make_unique<InferenceService>(sc_);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(host_port(cfg_.host, cfg_.port), creds, &grpc_port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(cfg_.max_receive_mib << 20));
  builder.RegisterService(service_.get());
  builder.experimental().SetInterceptorCreators(parse_failure_interceptors(metrics_));
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || grpc_port == 0) {
    spdlog::critical("start-up failed: cannot listen on {}", host_port(cfg_.host, cfg_.port));
    grpc_.reset();
    stop_endpoints();
    return false;
  }
  set_health(*grpc_, false);
  try {
    write_port_file(cfg_.port_file, grpc_port, metrics_port, http_api_port);
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    stop_endpoints();
    return false;
  }
  spdlog::info("gRPC listening on {} ({}{}), metrics on port {}", host_port(cfg_.host, grpc_port),
               cfg_.tls_cert.empty() ? "plaintext" : "TLS",
               cfg_.auth_token.empty() ? "" : ", bearer token required", metrics_port);
  if (http_api_)
    spdlog::info("OpenAI-compatible HTTP API on {} ({})", host_port(cfg_.host, http_api_port),
                 cfg_.tls_cert.empty() ? "plain HTTP" : "HTTPS");
  return true;
}

bool ServerProcess::load_model() {
  const int threads = set_torch_threads(cfg_.threads);
  try {
    model_ = load_model_for_server(cfg_);
  } catch (const std::exception& e) {
    spdlog::critical("cannot load the model from '{}': {}", cfg_.model_dir, e.what());
    return false;
  }
  spdlog::info("model loaded on {} ({} kernels, {} LibTorch threads):", model_->device.str(),
               kernels_name(model_->kernels), threads);
  {  // one log line per line of the summary (text logs escape line breaks)
    std::istringstream summary(model_summary_text(*model_));
    for (std::string line; std::getline(summary, line);) spdlog::info("  {}", line);
  }
  device_memory_ = device_memory_source(model_->device);
  sc_.model_info = describe_model(*model_, cfg_);
  sc_.limits.max_k = model_->config.hires_tokens();
  sc_.limits.default_gen_length =
      default_gen_length_for(model_->generation_defaults.max_new_tokens, cfg_.max_gen_length);
  metrics_.model_info
      .with({sc_.model_info.checkpoint(), sc_.model_info.model_type(), sc_.model_info.dtype(),
             sc_.model_info.device(), cfg_.adapter_dir, SHIRG_VERSION})
      .set(1);
  return true;
}

bool ServerProcess::start_executor() {
  executor_ = std::make_unique<Executor>(model_, executor_config(cfg_, device_memory_, metrics_));
  if (!cfg_.warmup || signals_.count() > 0) return true;
  const Status s =
      run_warmup(*executor_, cfg_.warmup_requests, [this] { return signals_.count() > 0; });
  if (s.ok() || signals_.count() > 0) return true;
  spdlog::critical("warm-up failed: {}: {}", status_code_name(s.code), s.message);
  executor_->shutdown(std::chrono::milliseconds(0));
  return false;
}

void ServerProcess::serve() {
  if (signals_.count() > 0) return;
  sc_.executor.store(executor_.get(), std::memory_order_release);
  set_health(*grpc_, true);
  metrics_.ready.set(1);
  spdlog::info("SERVING");
  signals_.wait(1);
}

void ServerProcess::shut_down() {
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(cfg_.grace_period_seconds));
  spdlog::info("shutdown requested: NOT_SERVING, draining {} in-flight request(s) for up to {} ms",
               static_cast<int64_t>(metrics_.inflight.value()), grace.count());
  sc_.draining.store(true);
  set_health(*grpc_, false);
  metrics_.ready.set(0);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (metrics_.inflight.value() > 0 && signals_.count() < 2 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (signals_.count() >= 2) sc_.forced_shutdown.store(true);
  if (metrics_.inflight.value() > 0)
    spdlog::warn("cancelling {} request(s) still in flight{}",
                 static_cast<int64_t>(metrics_.inflight.value()),
                 signals_.count() >= 2 ? " (second signal)" : " (grace period over)");
  executor_->shutdown(std::chrono::milliseconds(0));  // cancels the rest; every call gets on_done
  stop_endpoints();
}

// Every shirg.v1 call has its final status by the time this runs (or none was admitted), so the
// gRPC server stops at once: waiting would only wait for open health Watch streams, which never
// end on their own.
void ServerProcess::stop_endpoints() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  // (Also after a second signal: the calls were cancelled already and only finish sending.)
  while (metrics_.inflight.value() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (grpc_) {
    if (auto* h = grpc_->GetHealthCheckService()) h->Shutdown();
    grpc_->Shutdown(std::chrono::system_clock::now());
    grpc_->Wait();
  }
  if (http_api_) http_api_->stop();
  if (metrics_http_) metrics_http_->stop();
}

}  // namespace

int run_server(const ServerConfig& cfg) {
  SignalWatcher signals;  // before any other thread exists
  setup_logging(cfg.log_format == "json" ? LogFormat::kJson : LogFormat::kText, cfg.log_level);
  spdlog::info(
      "shirg-server {} starting (model {}, device {}, dtype {}, workers {}, max batch {}, "
      "schedule {}, max queue {})",
      SHIRG_VERSION, cfg.model_dir, cfg.device, cfg.dtype, cfg.workers, cfg.max_batch, cfg.schedule,
      cfg.max_queue);
  ServerProcess server(cfg, signals);
  if (!server.start_endpoints()) return 1;
  // Model, executor, warm-up: health stays NOT_SERVING until all three are done.
  if (!server.load_model() || !server.start_executor()) {
    server.stop_endpoints();
    return 1;
  }
  server.serve();
  server.shut_down();
  spdlog::info("stopped");
  return 0;
}

}  // namespace shirg::rpc
