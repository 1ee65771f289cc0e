#pragma once
// Pieces shared by the shirg.v1 call reactors: per-call accounting (request id, metrics, the
// final log line) and the engine-observer bookkeeping (prefix cache gauge, step latency,
// request id on the worker thread's log lines).
#include <grpcpp/server_context.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "engine/runtime/executor.h"
#include "server/admission.h"
#include "server/proto_convert.h"
#include "server/service_context.h"

namespace shirg::rpc {

// The call's gRPC deadline as a steady-clock time point (none when the client set none).
std::optional<SteadyClock::time_point> engine_deadline(const grpc::CallbackServerContext* ctx);

// The request id of a call: the proto field when set, else the "x-request-id" metadata when
// valid, else a new one.
std::string pick_request_id(const std::string& from_proto, const grpc::CallbackServerContext* ctx);

// admit_call() for a gRPC call: its authorization metadata, gRPC wording.
grpc::Status admit(const ServiceContext& sc, const grpc::CallbackServerContext* ctx,
                   Executor** executor_out);

// final_status() for a gRPC call: its deadline, with 1 s of slack (the client's copy of the
// deadline expires first), and whether the client cancelled.
grpc::Status final_status(const Status& engine_status, const grpc::CallbackServerContext* ctx,
                          const ServiceContext& sc);

// The prologue of every engine-backed call, in this order: admission (token, draining, model
// ready), protobuf -> native validation, request id and gRPC deadline (already past ->
// DEADLINE_EXCEEDED). OK: *native is ready to enqueue on *executor. Otherwise the status the
// call must finish with (nothing was enqueued).
template <typename ProtoRequest, typename NativeRequest>
grpc::Status admit_request(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                           const ProtoRequest& req, const std::string& request_id,
                           NativeRequest* native, Executor** executor) {
  if (grpc::Status s = admit(sc, ctx, executor); !s.ok()) return s;
  if (Status s = from_proto(req, sc.limits, native); !s.ok()) return to_grpc(s);
  native->request_id = request_id;
  native->deadline = engine_deadline(ctx);
  if (native->deadline && *native->deadline <= SteadyClock::now())
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "deadline exceeded before the request started");
  return grpc::Status::OK;
}

// Links a call to its engine request so a cancel reaches the engine whichever comes first: the
// client's cancel (OnCancel, a failed write) or the enqueue. Thread-safe.
class EngineCancelLink {
 public:
  // After a successful enqueue. Cancels at once when the call was cancelled before.
  void attach(Executor* executor, uint64_t engine_id);
  // From OnCancel / a failed write: cancels the engine request now or when it is attached.
  void cancel();

 private:
  std::mutex mu_;
  Executor* executor_ = nullptr;
  uint64_t engine_id_ = 0;
  bool cancel_requested_ = false;
};

// Lifetime accounting of one RPC: counts it in shirg_inflight_requests while alive, records
// shirg_requests_total / shirg_request_duration_seconds and logs one line when it finishes.
class CallAccounting {
 public:
  // `protocol`: the metrics label (kProtocolGrpc, or kProtocolHttp for the OpenAI API).
  CallAccounting(ServiceContext& sc, const char* rpc, const char* protocol = kProtocolGrpc);
  ~CallAccounting();
  CallAccounting(const CallAccounting&) = delete;
  CallAccounting& operator=(const CallAccounting&) = delete;

  void set_request_id(std::string id) { request_id_ = std::move(id); }
  const std::string& request_id() const { return request_id_; }
  const char* rpc() const { return rpc_; }
  // Records the outcome; `detail` is appended to the log line of a successful call.
  void finished(const grpc::Status& s, const std::string& detail = "");

 private:
  ServiceContext& sc_;
  const char* rpc_;
  const char* protocol_;
  std::string request_id_;
  SteadyClock::time_point start_;
  bool recorded_ = false;
};

// Base of the generate observers: the parts that do not depend on unary vs streaming.
class ObserverBookkeeping : public RequestObserver {
 public:
  ObserverBookkeeping(ServiceContext& sc, std::string request_id);
  void on_started(double queue_ms) override;
  void on_prefix_ready(const PrefixReadyEvent& e) override;
  void on_step(const StepEvent& e) override;
  // Subclasses call this first in on_done: releases the cache estimate, records stage
  // metrics and token counts for a successful result, detaches the request id.
  void finish_bookkeeping(const Status& s, const GenerateResult& r);

 protected:
  ServiceContext& sc_;
  std::string request_id_;

 private:
  int64_t cache_bytes_ = 0;
  SteadyClock::time_point last_event_;
};

}  // namespace shirg::rpc
