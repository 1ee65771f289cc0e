#include "server/openai/chat_call.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "server/call_common.h"
#include "server/logging.h"
#include "server/openai/chat_request.h"
#include "server/openai/chat_response.h"
#include "server/openai/client_socket.h"
#include "server/openai/http_common.h"

namespace shirg::rpc::openai {
namespace {

// How often a waiting handler checks its connection (well under one denoising step).
constexpr auto kPollInterval = std::chrono::milliseconds(20);

// One chat request: shared by the HTTP thread (handler, then content provider) and the engine
// observer. The observer only records events and notifies; all writing happens on the HTTP
// thread.
struct ChatCall {
  ChatCall(ServiceContext& s, std::string request_id)
      : sc(s), acct(s, kRpcChatCompletions, kProtocolHttp) {
    acct.set_request_id(std::move(request_id));
  }

  ServiceContext& sc;
  CallAccounting acct;
  CompletionIds ids;
  ChatRequest request;
  std::optional<SteadyClock::time_point> deadline;
  EngineCancelLink cancel_link;
  std::unique_ptr<ClientSocket> socket;
  bool client_gone = false;  // HTTP thread only

  std::mutex mu;
  std::condition_variable cv;
  bool prefix_ready = false;
  // Step events not yet written, oldest first: at most --max-steps (the request's steps), so
  // every step becomes one SSE chunk even when the writer falls behind, and memory stays bounded.
  std::deque<StepEvent> steps;
  std::optional<Status> done;
  GenerateResult result;

  // Waits (with mu held) until `pred` holds, checking the connection every kPollInterval; a
  // closed connection cancels the engine request (on_done still follows).
  template <typename Pred>
  void wait(std::unique_lock<std::mutex>& lock, Pred pred) {
    while (!pred()) {
      if (cv.wait_for(lock, kPollInterval, pred)) return;
      if (!client_gone && socket && socket->closed()) {
        client_gone = true;
        RequestIdScope scope(acct.request_id());
        spdlog::info("client closed the connection: cancelling the request");
        lock.unlock();
        cancel_link.cancel();
        lock.lock();
      }
    }
  }

  // The status the client gets for a finished request, as final_status() does for gRPC.
  grpc::Status final_status(const Status& s) const {
    if (s.code == StatusCode::kCancelled) {
      if (deadline && SteadyClock::now() >= *deadline)
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "deadline exceeded (timeout_ms: " + s.message + ")");
      if (sc.draining.load() && !client_gone)
        return grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            "server is shutting down: the request was cancelled after the grace period (" +
                s.message + ")");
    }
    return to_grpc(s);
  }

  std::string detail() const {
    return std::to_string(result.answer_ids.size()) + " answer tokens, " +
           std::to_string(result.prefix_tokens) + " prefix tokens, " +
           std::to_string(result.steps_run) + " steps" + (request.stream ? ", streamed" : "");
  }
};

class Observer final : public ObserverBookkeeping {
 public:
  explicit Observer(std::shared_ptr<ChatCall> call)
      : ObserverBookkeeping(call->sc, call->acct.request_id()), call_(std::move(call)) {}
  void on_prefix_ready(const PrefixReadyEvent& e) override {
    ObserverBookkeeping::on_prefix_ready(e);
    std::lock_guard<std::mutex> lock(call_->mu);
    call_->prefix_ready = true;
    call_->cv.notify_all();
  }
  void on_step(const StepEvent& e) override {
    ObserverBookkeeping::on_step(e);
    std::lock_guard<std::mutex> lock(call_->mu);
    call_->steps.push_back(e);
    call_->cv.notify_all();
  }
  void on_done(const Status& s, const GenerateResult& r) override {
    finish_bookkeeping(s, r);
    std::lock_guard<std::mutex> lock(call_->mu);
    call_->done = s;
    call_->result = r;
    call_->cv.notify_all();
  }

 private:
  std::shared_ptr<ChatCall> call_;
};

void fail(ChatCall& call, httplib::Response& res, const ApiError& e) {
  call.acct.finished(grpc::Status(e.status, e.message));
  send_error(res, e);
}

// Writes the SSE events of a streaming request; runs as the chunked content provider.
class StreamWriter {
 public:
  explicit StreamWriter(std::shared_ptr<ChatCall> call) : call_(std::move(call)) {}

  bool operator()(std::size_t, httplib::DataSink& sink) {
    ChatCall& c = *call_;
    std::unique_lock<std::mutex> lock(c.mu);
    c.wait(lock, [&] { return !c.steps.empty() || c.done.has_value() || c.client_gone; });
    if (c.client_gone) return abandon(lock);
    if (!c.steps.empty()) {
      const StepEvent e = std::move(c.steps.front());
      c.steps.pop_front();
      lock.unlock();
      const std::string chunk =
          chunk_json(c.ids, text_.next(e.partial_answer), !role_sent_, nullptr, &e);
      role_sent_ = true;
      if (!write(sink, sse_event(chunk))) {
        lock.lock();
        return abandon(lock);
      }
      return true;
    }
    // Done: the final chunk (rest of the answer, finish_reason), usage, [DONE].
    const Status s = *c.done;
    lock.unlock();
    const grpc::Status st = c.final_status(s);
    std::string out;
    if (st.ok()) {
      std::optional<std::string> rest = text_.finish(c.result.answer);
      if (!rest) {
        RequestIdScope scope(c.acct.request_id());
        spdlog::error("streamed text '{}' is not a prefix of the answer '{}'", text_.sent(),
                      c.result.answer);
        rest = "";
      }
      out += sse_event(
          chunk_json(c.ids, *rest, !role_sent_, finish_reason_of(c.result.stop_reason), nullptr));
      if (c.request.include_usage) out += sse_event(usage_chunk_json(c.ids, c.result));
    } else {
      out += sse_event(error_body(api_error(st)));
    }
    out += kSseDone;
    c.acct.finished(st, c.detail());
    if (write(sink, out)) sink.done();
    return true;
  }

 private:
  static bool write(httplib::DataSink& sink, const std::string& s) {
    return sink.write(s.data(), s.size());
  }

  // The client is gone: cancel, wait for the engine (within one step), account, stop writing.
  bool abandon(std::unique_lock<std::mutex>& lock) {
    ChatCall& c = *call_;
    c.client_gone = true;
    lock.unlock();
    c.cancel_link.cancel();
    lock.lock();
    c.cv.wait(lock, [&] { return c.done.has_value(); });
    const Status s = *c.done;
    lock.unlock();
    c.acct.finished(c.final_status(s));
    return false;
  }

  std::shared_ptr<ChatCall> call_;
  StreamText text_;
  bool role_sent_ = false;
};

}  // namespace

void serve_chat(ServiceContext& sc, const httplib::Request& req, httplib::Response& res) {
  auto call = std::make_shared<ChatCall>(sc, http_request_id(req));
  ChatCall& c = *call;
  res.set_header("X-Request-Id", c.acct.request_id());
  Executor* ex = nullptr;
  if (auto e = admit_http(sc, req, &ex)) return fail(c, res, *e);
  if (auto e = parse_chat_request(req.body, sc.limits, &c.request)) return fail(c, res, *e);
  const std::string model_id = served_model_id(sc);
  if (!c.request.model.empty() && c.request.model != model_id)
    return fail(
        c, res,
        api_error(grpc::Status(grpc::StatusCode::NOT_FOUND, "model '" + c.request.model +
                                                                "' is not served here; this "
                                                                "server serves '" +
                                                                model_id + "' (GET /v1/models)"),
                  "model"));
  GenerateRequest native;
  if (Status s = from_proto(c.request.proto, sc.limits, &native); !s.ok())
    return fail(c, res, edge_error(s, c.request));
  native.request_id = c.acct.request_id();
  if (c.request.timeout_ms)
    c.deadline = SteadyClock::now() + std::chrono::milliseconds(*c.request.timeout_ms);
  native.deadline = c.deadline;
  native.want_step_events = c.request.stream;
  c.ids = CompletionIds{"chatcmpl-" + c.acct.request_id(), static_cast<int64_t>(std::time(nullptr)),
                        model_id, c.acct.request_id()};
  c.socket = std::make_unique<ClientSocket>(req.local_port, req.remote_addr, req.remote_port);
  if (!c.socket->found()) {
    RequestIdScope scope(c.acct.request_id());
    spdlog::warn("connection socket not found: a disconnect will not cancel the request");
  }

  uint64_t engine_id = 0;
  if (Status s = ex->enqueue(std::move(native), std::make_shared<Observer>(call), &engine_id);
      !s.ok())
    return fail(c, res, api_error(to_grpc(s)));
  c.cancel_link.attach(ex, engine_id);

  std::unique_lock<std::mutex> lock(c.mu);
  // Streaming starts once the prefix is ready, so errors found up to then get an HTTP status.
  c.wait(lock, [&] { return c.done.has_value() || (c.request.stream && c.prefix_ready); });
  if (c.done) {
    const Status s = *c.done;
    lock.unlock();
    const grpc::Status st = c.final_status(s);
    if (!st.ok()) return fail(c, res, api_error(st));
    if (!c.request.stream) {
      c.acct.finished(st, c.detail());
      res.status = 200;
      res.set_content(completion_json(c.ids, c.result), "application/json");
      return;
    }
    // Streaming request done before its prefix event (cannot happen: prefix_ready precedes
    // on_done on success); fall through to the stream writer, which sends the final chunk.
  } else {
    lock.unlock();
  }
  // cpp-httplib 0.11 would gzip a text/event-stream for a client that accepts gzip (the openai
  // SDK's fetch does), flushing only at the end: no compression for the stream. The Request is
  // httplib's own non-const object, handed to handlers as const.
  const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", StreamWriter(call), [call](bool success) {
    // Not successful (the write failed before the writer saw it): make sure the engine
    // stops; accounting is done by the writer or here.
    if (!success) {
      call->cancel_link.cancel();
      std::unique_lock<std::mutex> l(call->mu);
      call->cv.wait(l, [&] { return call->done.has_value(); });
      const Status s = *call->done;
      call->client_gone = true;
      l.unlock();
      call->acct.finished(call->final_status(s));
    }
  });
}

}  // namespace shirg::rpc::openai
