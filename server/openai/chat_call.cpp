#include "server/openai/chat_call.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>

#include "server/admission.h"
#include "server/call_common.h"
#include "server/http/exchange.h"
#include "server/logging.h"
#include "server/openai/chat_request.h"
#include "server/openai/chat_response.h"
#include "server/openai/http_common.h"

namespace shirg::rpc::openai {
namespace {

// Bodies from this size on are followed by malloc_trim (cheap next to parsing such a body).
constexpr std::size_t kTrimAfterBytes = std::size_t{4} << 20;

// One chat request, shared by the handler thread (until it is enqueued), the engine's observer
// callbacks and the exchange's client-gone callback. The observer formats and hands the
// response to the exchange; the HTTP transport writes it.
struct ChatCall {
  ChatCall(ServiceContext& s, std::shared_ptr<http::Exchange> e, std::string request_id)
      : sc(s), exchange(std::move(e)), acct(s, kRpcChatCompletions, kProtocolHttp) {
    acct.set_request_id(std::move(request_id));
  }

  ServiceContext& sc;
  const std::shared_ptr<http::Exchange> exchange;
  CallAccounting acct;
  CompletionIds ids;
  ChatRequest request;
  std::optional<SteadyClock::time_point> deadline;
  EngineCancelLink cancel_link;
  std::atomic<bool> client_gone{false};

  std::mutex mu;  // the stream's state below: observer callbacks come from engine threads
  bool stream_started = false;
  bool role_sent = false;
  StreamText text;

  void fail(const ApiError& e) {
    acct.finished(grpc::Status(e.status, e.message));
    exchange->respond(error_response(e, acct.request_id()));
  }

  grpc::Status final(const Status& s) const {
    CallEnd end;
    end.deadline = deadline;
    end.deadline_name = "timeout_ms";
    end.client_cancelled = client_gone.load();
    return final_status(s, end, sc);
  }

  // An engine error in this API's words: an image or question the engine could not use
  // points at the message part it came from.
  ApiError error_of(const grpc::Status& st, const Status& engine) const {
    if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
        engine.code == StatusCode::kInvalidArgument)
      return edge_error(engine, request);
    return api_error(st);
  }

  // The stream's head (mu held).
  void start_stream() {
    if (stream_started) return;
    stream_started = true;
    http::HttpResponse head;
    head.content_type = "text/event-stream";
    head.set_header("Cache-Control", "no-cache");
    head.set_header("X-Accel-Buffering", "no");
    head.set_header("X-Request-Id", acct.request_id());
    exchange->start_stream(std::move(head));
  }

  std::string detail(const GenerateResult& r) const {
    return std::to_string(r.answer_ids.size()) + " answer tokens, " +
           std::to_string(r.prefix_tokens) + " prefix tokens, " + std::to_string(r.steps_run) +
           " steps" + (request.stream ? ", streamed" : "");
  }
};

class Observer final : public ObserverBookkeeping {
 public:
  explicit Observer(std::shared_ptr<ChatCall> call)
      : ObserverBookkeeping(call->sc, call->acct.request_id()), call_(std::move(call)) {}

  void on_prefix_ready(const PrefixReadyEvent& e) override {
    ObserverBookkeeping::on_prefix_ready(e);
    if (!call_->request.stream) return;
    std::lock_guard<std::mutex> lock(call_->mu);
    call_->start_stream();  // errors found up to here were HTTP statuses
  }

  // One SSE chunk per step. Queued by the transport when the client reads slower than the
  // steps come (at most `steps` chunks): the engine never waits for the network.
  void on_step(const StepEvent& e) override {
    ObserverBookkeeping::on_step(e);
    if (!call_->request.stream) return;
    ChatCall& c = *call_;
    std::lock_guard<std::mutex> lock(c.mu);
    c.start_stream();
    const std::string chunk =
        chunk_json(c.ids, c.text.next(e.partial_answer), !c.role_sent, nullptr, &e);
    c.role_sent = true;
    c.exchange->write(sse_event(chunk));
  }

  void on_done(const Status& s, const GenerateResult& r) override {
    finish_bookkeeping(s, r);
    ChatCall& c = *call_;
    const grpc::Status st = c.final(s);
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.stream_started) {
      if (!st.ok()) {
        c.fail(c.error_of(st, s));
        return;
      }
      if (!c.request.stream) {
        c.acct.finished(st, c.detail(r));
        c.exchange->respond(json_response(200, completion_json(c.ids, r), c.acct.request_id()));
        return;
      }
      c.start_stream();  // (a successful request always had its prefix event first)
    }
    // The final chunk (rest of the answer, finish_reason), usage, [DONE]; or an error event.
    std::string out;
    if (st.ok()) {
      std::optional<std::string> rest = c.text.finish(r.answer);
      if (!rest) {
        spdlog::error("streamed text '{}' is not a prefix of the answer '{}'", c.text.sent(),
                      r.answer);
        rest = "";
      }
      out += sse_event(
          chunk_json(c.ids, *rest, !c.role_sent, finish_reason_of(r.stop_reason), nullptr));
      if (c.request.include_usage) out += sse_event(usage_chunk_json(c.ids, r));
    } else {
      out += sse_event(error_body(c.error_of(st, s)));
    }
    out += kSseDone;
    c.acct.finished(st, c.detail(r));
    c.exchange->write(std::move(out));
    c.exchange->finish_stream();
  }

 private:
  std::shared_ptr<ChatCall> call_;
};

}  // namespace

void serve_chat(ServiceContext& sc, std::shared_ptr<http::Exchange> exchange) {
  auto call = std::make_shared<ChatCall>(sc, exchange, http_request_id(exchange->request()));
  ChatCall& c = *call;
  if (exchange->gone()) {  // left while the request waited for a handler thread
    c.acct.finished(grpc::Status(grpc::StatusCode::CANCELLED,
                                 "the client closed the connection before the request started"));
    return;
  }
  Executor* ex = nullptr;
  // Admitted before the body was read (the route's check_head); again here, as the server may
  // have begun shutting down while the body arrived.
  if (grpc::Status s = admit_http(sc, exchange->request(), &ex); !s.ok())
    return c.fail(api_error(s));
  const std::size_t body_bytes = exchange->request().body.size();
  const std::optional<ApiError> bad =
      parse_chat_request(exchange->request().body, sc.limits, &c.request);
  exchange->release_body();
  // Parsing a large body leaves its transient copies (the JSON text's strings) in malloc's free
  // lists; give them back to the system so a refused large request leaves no resident growth.
  if (body_bytes >= kTrimAfterBytes) malloc_trim(0);
  if (bad) return c.fail(*bad);
  const std::string model_id = served_model_id(sc);
  if (!c.request.model.empty() && c.request.model != model_id)
    return c.fail(
        api_error(grpc::Status(grpc::StatusCode::NOT_FOUND, "model '" + c.request.model +
                                                                "' is not served here; this server "
                                                                "serves '" +
                                                                model_id + "' (GET /v1/models)"),
                  "model"));
  GenerateRequest native;
  if (Status s = from_proto(c.request.proto, sc.limits, &native); !s.ok())
    return c.fail(edge_error(s, c.request));
  native.request_id = c.acct.request_id();
  if (c.request.timeout_ms)
    c.deadline = SteadyClock::now() + std::chrono::milliseconds(*c.request.timeout_ms);
  native.deadline = c.deadline;
  native.want_step_events = c.request.stream;
  c.ids = CompletionIds{"chatcmpl-" + c.acct.request_id(), static_cast<int64_t>(std::time(nullptr)),
                        model_id, c.acct.request_id()};

  uint64_t engine_id = 0;
  if (Status s = ex->enqueue(std::move(native), std::make_shared<Observer>(call), &engine_id);
      !s.ok())
    return c.fail(api_error(to_grpc(s)));
  c.cancel_link.attach(ex, engine_id);
  exchange->on_gone([weak = std::weak_ptr<ChatCall>(call)] {
    auto c = weak.lock();
    if (!c) return;
    c->client_gone = true;
    RequestIdScope scope(c->acct.request_id());
    spdlog::info("client closed the connection: cancelling the request");
    c->cancel_link.cancel();
  });
}

}  // namespace shirg::rpc::openai
