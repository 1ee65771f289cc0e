// SelectionMap (engine work through the executor) and ModelInfo (answered at once).
#include <memory>

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
    SelectionMapRequest native;
    if (grpc::Status s = admit_request(sc_, ctx_, *req, acct_.request_id(), &native, &ex);
        !s.ok()) {
      finish(s);
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
    cancel_link_.attach(ex, id);
  }

  void OnCancel() override { cancel_link_.cancel(); }

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
  EngineCancelLink cancel_link_;
};

class ModelInfoCall final : public grpc::ServerUnaryReactor {
 public:
  ModelInfoCall(ServiceContext& sc, grpc::CallbackServerContext* ctx, v1::ModelInfoResponse* resp)
      : acct_(sc, kRpcModelInfo) {
    acct_.set_request_id(pick_request_id("", ctx));
    Executor* ex = nullptr;
    grpc::Status s = admit(sc, ctx, &ex);
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
