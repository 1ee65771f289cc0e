#include "server/call_common.h"

#include <spdlog/spdlog.h>

#include "proto/grpc_status_name.h"
#include "server/logging.h"

namespace shirg::rpc {

grpc::Status admit(const ServiceContext& sc, const grpc::CallbackServerContext* ctx,
                   Executor** executor_out) {
  std::vector<std::string_view> authorization;
  const auto range = ctx->client_metadata().equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it)
    authorization.emplace_back(it->second.data(), it->second.size());
  return admit_call(sc, authorization, Edge::kGrpc, executor_out);
}

std::optional<SteadyClock::time_point> engine_deadline(const grpc::CallbackServerContext* ctx) {
  const auto d = ctx->deadline();
  const auto now = std::chrono::system_clock::now();
  // gRPC reports "no deadline" as the far future.
  if (d >= now + std::chrono::hours(24 * 365 * 10)) return std::nullopt;
  return SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(d - now);
}

std::string pick_request_id(const std::string& from_proto, const grpc::CallbackServerContext* ctx) {
  if (!from_proto.empty()) return from_proto;
  const auto& md = ctx->client_metadata();
  auto it = md.find("x-request-id");
  if (it != md.end()) {
    std::string id(it->second.data(), it->second.size());
    if (is_valid_request_id(id)) return id;
  }
  return make_request_id();
}

grpc::Status final_status(const Status& s, const grpc::CallbackServerContext* ctx,
                          const ServiceContext& sc) {
  CallEnd end;
  end.deadline = engine_deadline(ctx);
  end.deadline_slack = std::chrono::seconds(1);
  end.client_cancelled = ctx->IsCancelled();
  return final_status(s, end, sc);
}

void EngineCancelLink::attach(Executor* executor, uint64_t engine_id) {
  std::lock_guard<std::mutex> lock(mu_);
  executor_ = executor;
  engine_id_ = engine_id;
  if (cancel_requested_) executor_->cancel(engine_id_);
}

void EngineCancelLink::cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancel_requested_ = true;
  if (executor_) executor_->cancel(engine_id_);
}

CallAccounting::CallAccounting(ServiceContext& sc, const char* rpc, const char* protocol)
    : sc_(sc), rpc_(rpc), protocol_(protocol), start_(SteadyClock::now()) {
  sc_.metrics.inflight.inc();
}

CallAccounting::~CallAccounting() {
  sc_.metrics.inflight.dec();
}

void CallAccounting::finished(const grpc::Status& s, const std::string& detail) {
  if (recorded_) return;
  recorded_ = true;
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start_).count();
  const std::string code = grpc_status_name(s.error_code());
  sc_.metrics.record_request(rpc_, code, secs, protocol_);
  RequestIdScope scope(request_id_);
  if (s.ok()) {
    spdlog::info("{} OK in {:.1f} ms{}{}", rpc_, secs * 1000.0, detail.empty() ? "" : ": ", detail);
  } else if (s.error_code() == grpc::StatusCode::INTERNAL) {
    spdlog::error("{} {} in {:.1f} ms: {}", rpc_, code, secs * 1000.0, s.error_message());
  } else {
    spdlog::warn("{} {} in {:.1f} ms: {}", rpc_, code, secs * 1000.0, s.error_message());
  }
}

ObserverBookkeeping::ObserverBookkeeping(ServiceContext& sc, std::string request_id)
    : sc_(sc), request_id_(std::move(request_id)) {}

void ObserverBookkeeping::on_started(double queue_ms) {
  // Runs on the worker thread right before the pipeline: its log lines carry our id from here.
  set_thread_request_id(request_id_);
  spdlog::debug("started after {:.1f} ms in the queue", queue_ms);
}

void ObserverBookkeeping::on_prefix_ready(const PrefixReadyEvent& e) {
  cache_bytes_ = e.cache_bytes;
  sc_.metrics.prefix_cache_bytes.inc(static_cast<double>(cache_bytes_));
  last_event_ = SteadyClock::now();
  spdlog::debug("prefix ready: {} tokens ({} visual)", e.prefix_tokens, e.selection.visual_tokens);
}

void ObserverBookkeeping::on_step(const StepEvent& e) {
  const auto now = SteadyClock::now();
  sc_.metrics.record_step(std::chrono::duration<double>(now - last_event_).count());
  last_event_ = now;
}

void ObserverBookkeeping::finish_bookkeeping(const Status& s, const GenerateResult& r) {
  if (cache_bytes_) sc_.metrics.prefix_cache_bytes.dec(static_cast<double>(cache_bytes_));
  cache_bytes_ = 0;
  if (s.ok()) {
    sc_.metrics.record_timings(r.timings);
    sc_.metrics.add_generated_tokens(static_cast<int64_t>(r.answer_ids.size()));
  }
  clear_thread_request_id();
}

}  // namespace shirg::rpc
