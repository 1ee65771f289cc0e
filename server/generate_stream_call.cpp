// GenerateStream (server streaming). Events come from the engine thread; they are queued per
// call and written one at a time (StartWrite only when no write is in flight; the next write
// starts from OnWriteDone). Step events are "latest wins": a step still waiting in the queue is
// replaced by the next one, so a slow client costs at most one pending step, never unbounded
// memory, and the engine never waits for the network.
#include <spdlog/spdlog.h>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "server/call_common.h"
#include "server/calls.h"

namespace shirg::rpc {
namespace {

class GenerateStreamCall final : public grpc::ServerWriteReactor<v1::GenerateEvent> {
 public:
  GenerateStreamCall(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                     const v1::GenerateRequest* req)
      : sc_(sc), ctx_(ctx), acct_(sc, kRpcGenerateStream) {
    acct_.set_request_id(pick_request_id(req->request_id(), ctx));
    ctx_->AddInitialMetadata("x-request-id", acct_.request_id());
    Executor* ex = nullptr;
    GenerateRequest native;
    if (grpc::Status s = admit_request(sc_, ctx_, *req, acct_.request_id(), &native, &ex);
        !s.ok()) {
      finish_now(s);
      return;
    }
    native.want_step_events = true;
    {
      // "queued" goes first; engine events that race ahead wait behind it until released.
      std::lock_guard<std::mutex> lock(mu_);
      v1::GenerateEvent queued;
      queued.mutable_queued()->set_request_id(acct_.request_id());
      pending_.push_back(std::move(queued));
    }
    auto observer = std::make_shared<Observer>(this);
    uint64_t id = 0;
    if (Status s = ex->enqueue(std::move(native), observer, &id); !s.ok()) {
      finish_now(to_grpc(s));
      return;
    }
    cancel_link_.attach(ex, id);
    std::unique_lock<std::mutex> lock(mu_);
    released_ = true;
    pump(lock);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      // The client is gone (or the call was cancelled): stop writing, stop the engine; the call
      // finishes when the engine reports on_done.
      client_gone_ = true;
      pending_.clear();
      cancel_link_.cancel();
    }
    pump(lock);
  }

  void OnCancel() override { cancel_link_.cancel(); }

  void OnDone() override { delete this; }

 private:
  class Observer final : public ObserverBookkeeping {
   public:
    explicit Observer(GenerateStreamCall* call)
        : ObserverBookkeeping(call->sc_, call->acct_.request_id()), call_(call) {}
    void on_prefix_ready(const PrefixReadyEvent& e) override {
      ObserverBookkeeping::on_prefix_ready(e);
      v1::GenerateEvent ev;
      to_proto(e, ev.mutable_prefix_ready());
      call_->push(std::move(ev));
    }
    void on_step(const StepEvent& e) override {
      ObserverBookkeeping::on_step(e);
      v1::GenerateEvent ev;
      to_proto(e, ev.mutable_step());
      call_->push(std::move(ev));
    }
    void on_done(const Status& s, const GenerateResult& r) override {
      finish_bookkeeping(s, r);
      GenerateStreamCall* call = call_;
      call_ = nullptr;
      call->engine_done(s, r);
    }

   private:
    GenerateStreamCall* call_;  // valid until engine_done hands over the final status
  };

  // Queues an event (coalescing waiting step events) and starts a write if none is in flight.
  void push(v1::GenerateEvent ev) {
    std::unique_lock<std::mutex> lock(mu_);
    if (client_gone_ || finish_started_) return;
    if (ev.has_step() && !pending_.empty() && pending_.back().has_step()) {
      pending_.back() = std::move(ev);
    } else {
      pending_.push_back(std::move(ev));
    }
    pump(lock);
  }

  void engine_done(const Status& s, const GenerateResult& r) {
    const grpc::Status st = final_status(s, ctx_, sc_);
    std::unique_lock<std::mutex> lock(mu_);
    if (st.ok() && !client_gone_) {
      v1::GenerateEvent ev;
      to_proto(acct_.request_id(), r, ev.mutable_result());
      pending_.push_back(std::move(ev));
      detail_ = std::to_string(r.answer_ids.size()) + " answer tokens, " +
                std::to_string(r.prefix_tokens) + " prefix tokens, " + std::to_string(r.steps_run) +
                " steps";
    }
    final_ = st;
    pump(lock);
  }

  // With mu_ held: start the next write, or Finish once the queue is empty and the final status
  // is known. Calls into gRPC happen after unlocking; writing_/finish_started_ keep ownership.
  void pump(std::unique_lock<std::mutex>& lock) {
    if (!released_ || writing_ || finish_started_) return;
    if (!pending_.empty() && !client_gone_) {
      in_flight_ = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      lock.unlock();
      StartWrite(&in_flight_);
      return;
    }
    if (!final_) return;
    finish_started_ = true;
    const grpc::Status st = *final_;
    const std::string detail = detail_;
    lock.unlock();
    acct_.finished(st, detail);
    Finish(st);  // `this` may be deleted from here on
  }

  // Before anything was enqueued (admission or validation failed).
  void finish_now(const grpc::Status& s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.clear();
      finish_started_ = true;
    }
    acct_.finished(s);
    Finish(s);
  }

  ServiceContext& sc_;
  grpc::CallbackServerContext* ctx_;
  CallAccounting acct_;

  std::mutex mu_;
  std::deque<v1::GenerateEvent> pending_;
  v1::GenerateEvent in_flight_;  // the message of the write in flight (must outlive it)
  bool released_ = false;        // the constructor has enqueued the request: writes may start
  bool writing_ = false;
  bool client_gone_ = false;
  bool finish_started_ = false;
  std::optional<grpc::Status> final_;
  std::string detail_;
  EngineCancelLink cancel_link_;  // its own lock: taken after mu_, never before
};

}  // namespace

grpc::ServerWriteReactor<v1::GenerateEvent>* start_generate_stream(ServiceContext& sc,
                                                                   grpc::CallbackServerContext* ctx,
                                                                   const v1::GenerateRequest* req) {
  return new GenerateStreamCall(sc, ctx, req);
}

}  // namespace shirg::rpc
