// Generate (unary): validate at the edge, enqueue, answer from the engine's on_done.
#include <spdlog/spdlog.h>

#include <memory>

#include "server/call_common.h"
#include "server/calls.h"
#include "server/logging.h"

namespace shirg::rpc {
namespace {

class GenerateCall final : public grpc::ServerUnaryReactor {
 public:
  GenerateCall(ServiceContext& sc, grpc::CallbackServerContext* ctx, const v1::GenerateRequest* req,
               v1::GenerateResponse* resp)
      : sc_(sc), ctx_(ctx), resp_(resp), acct_(sc, kRpcGenerate) {
    acct_.set_request_id(pick_request_id(req->request_id(), ctx));
    ctx_->AddInitialMetadata("x-request-id", acct_.request_id());
    Executor* ex = nullptr;
    GenerateRequest native;
    if (grpc::Status s = admit_request(sc_, ctx_, *req, acct_.request_id(), &native, &ex);
        !s.ok()) {
      finish(s);
      return;
    }
    auto observer = std::make_shared<Observer>(this);
    uint64_t id = 0;
    if (Status s = ex->enqueue(std::move(native), observer, &id); !s.ok()) {
      finish(to_grpc(s));
      return;
    }
    cancel_link_.attach(ex, id);
  }

  void OnCancel() override { cancel_link_.cancel(); }

  void OnDone() override { delete this; }

 private:
  // Engine events for this call. `call_` stays valid until on_done has called finish().
  class Observer final : public ObserverBookkeeping {
   public:
    explicit Observer(GenerateCall* call)
        : ObserverBookkeeping(call->sc_, call->acct_.request_id()), call_(call) {}
    void on_done(const Status& s, const GenerateResult& r) override {
      finish_bookkeeping(s, r);
      GenerateCall* call = call_;
      call_ = nullptr;
      call->complete(s, r);
    }

   private:
    GenerateCall* call_;
  };

  void complete(const Status& s, const GenerateResult& r) {
    const grpc::Status st = final_status(s, ctx_, sc_);
    std::string detail;
    if (st.ok()) {
      to_proto(acct_.request_id(), r, resp_);
      detail = std::to_string(r.answer_ids.size()) + " answer tokens, " +
               std::to_string(r.prefix_tokens) + " prefix tokens, " + std::to_string(r.steps_run) +
               " steps";
    }
    finish(st, detail);
  }

  void finish(const grpc::Status& s, const std::string& detail = "") {
    acct_.finished(s, detail);
    Finish(s);  // `this` may be deleted from here on
  }

  ServiceContext& sc_;
  grpc::CallbackServerContext* ctx_;
  v1::GenerateResponse* resp_;
  CallAccounting acct_;
  EngineCancelLink cancel_link_;
};

}  // namespace

grpc::ServerUnaryReactor* start_generate(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                                         const v1::GenerateRequest* req,
                                         v1::GenerateResponse* resp) {
  return new GenerateCall(sc, ctx, req, resp);
}

}  // namespace shirg::rpc
