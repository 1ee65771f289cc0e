// SelectionMap (engine work through the executor) and ModelInfo (answered at once).
#include <memory>
#include <mutex>

#include "server/call_common.h"
#include "server/calls.h"
#include "server/logging.h"

namespace shirg::rpc {
namespace {

class SelectionMapCall final : public grpc::ServerUnaryReactor {
 public:
  SelectionMapCall(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                   const v1::SelectionMapRequest* req, v1::SelectionMapResponse* resp)
      : sc_(sc), ctx_(ctx), resp_(resp), acct_(sc, kRpcSelectionMap) {
    acct_.set_request_id(pick_request_id("", ctx));
    ctx_->AddInitialMetadata("x-request-id", acct_.request_id());
    Executor* ex = nullptr;
    if (grpc::Status s = sc_.admit(ctx_, &ex); !s.ok()) {
      finish(s);
      return;
    }
    SelectionMapRequest native;
    if (Status s = from_proto(*req, sc_.limits, &native); !s.ok()) {
      finish(to_grpc(s));
      return;
    }
    native.request_id = acct_.request_id();
    native.deadline = engine_deadline(ctx_);
    if (native.deadline && *native.deadline <= SteadyClock::now()) {
      finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "deadline exceeded before the request started"));
      return;
    }
    uint64_t id = 0;
    // The callback runs once on a worker thread; `this` is alive until it calls finish().
    auto done = [this](const Status& s, const SelectionMapResult& r) {
      const grpc::Status st = final_status(s, ctx_, sc_);
      std::string detail;
      if (st.ok()) {
        to_proto(r, resp_);
        detail = std::to_string(r.kept_indices.size()) + " kept of grid " + std::to_string(r.grid);
      }
      finish(st, detail);
    };
    if (Status s = ex->enqueue_selection_map(std::move(native), done, &id); !s.ok()) {
      finish(to_grpc(s));
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    executor_ = ex;
    engine_id_ = id;
    if (cancel_requested_) executor_->cancel(engine_id_);
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_requested_ = true;
    if (executor_) executor_->cancel(engine_id_);
  }

  void OnDone() override { delete this; }

 private:
  void finish(const grpc::Status& s, const std::string& detail = "") {
    acct_.finished(s, detail);
    Finish(s);
  }

  ServiceContext& sc_;
  grpc::CallbackServerContext* ctx_;
  v1::SelectionMapResponse* resp_;
  CallAccounting acct_;
  std::mutex mu_;
  Executor* executor_ = nullptr;
  uint64_t engine_id_ = 0;
  bool cancel_requested_ = false;
};

class ModelInfoCall final : public grpc::ServerUnaryReactor {
 public:
  ModelInfoCall(ServiceContext& sc, grpc::CallbackServerContext* ctx, v1::ModelInfoResponse* resp)
      : acct_(sc, kRpcModelInfo) {
    acct_.set_request_id(pick_request_id("", ctx));
    Executor* ex = nullptr;
    grpc::Status s = sc.admit(ctx, &ex);
    if (s.ok()) *resp = sc.model_info;
    acct_.finished(s);
    Finish(s);
  }
  void OnDone() override { delete this; }

 private:
  CallAccounting acct_;
};

}  // namespace

grpc::ServerUnaryReactor* start_selection_map(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                                              const v1::SelectionMapRequest* req,
                                              v1::SelectionMapResponse* resp) {
  return new SelectionMapCall(sc, ctx, req, resp);
}

grpc::ServerUnaryReactor* start_model_info(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                                           v1::ModelInfoResponse* resp) {
  return new ModelInfoCall(sc, ctx, resp);
}

}  // namespace shirg::rpc
