#pragma once
// One request and its response, as a route handler sees it (server/http/http_server.h). The
// handler answers through it from any thread, now or later: one response, or a streamed one
// (head, then data, then the end). The transport thread writes; nothing here blocks.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/http/http_message.h"

namespace shirg::http {

class Exchange;

namespace detail {

// The server's budget for request bodies held in memory at once (all connections together).
class BodyBudget {
 public:
  explicit BodyBudget(uint64_t limit) : limit_(limit) {}
  bool try_reserve(uint64_t bytes);
  void release(uint64_t bytes);
  uint64_t used() const { return used_.load(); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

// Bytes of a BodyBudget held by one request; given back on destruction or reset().
class BodyReservation {
 public:
  BodyReservation() = default;
  BodyReservation(std::shared_ptr<BodyBudget> budget, uint64_t bytes);
  BodyReservation(BodyReservation&& o) noexcept;
  BodyReservation& operator=(BodyReservation&& o) noexcept;
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;
  ~BodyReservation() { reset(); }
  void reset();

 private:
  std::shared_ptr<BodyBudget> budget_;
  uint64_t bytes_ = 0;
};

// Implemented by the transport thread: applies an exchange's output to its connection
// (ignored when the connection is gone or serves another exchange by then).
class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  virtual void respond(Exchange& ex, HttpResponse response) = 0;
  virtual void start_stream(Exchange& ex, HttpResponse head) = 0;
  virtual void write(Exchange& ex, std::string data) = 0;
  virtual void finish_stream(Exchange& ex) = 0;
};

// Hands actions from any thread to the transport thread (which runs them in posting order).
class Inbox {
 public:
  using Action = std::function<void(ExchangeSink&)>;
  explicit Inbox(int wake_fd) : wake_fd_(wake_fd) {}
  // False (and the action dropped) once closed.
  bool post(Action action);
  std::vector<Action> take();
  void close();  // drops pending actions; later posts are dropped

 private:
  std::mutex mu_;
  std::vector<Action> actions_;
  bool closed_ = false;
  const int wake_fd_;  // an eventfd the transport thread polls
};

}  // namespace detail

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  // Made by the transport for each complete request on connection `connection`.
  Exchange(std::shared_ptr<detail::Inbox> inbox, uint64_t connection, HttpRequest request,
           std::string param, detail::BodyReservation reservation);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const HttpRequest& request() const { return request_; }
  // The %-decoded path segment of a route with a parameter ("/v1/models/{id}"), else "".
  const std::string& param() const { return param_; }
  uint64_t connection() const { return connection_; }

  // Frees the request body and gives its bytes back to the server's body budget (call once the
  // body is parsed; request().body is empty afterwards). Same thread as the handler.
  void release_body();

  // Answers with one response. Once per exchange: later calls (and stream calls) are ignored.
  void respond(HttpResponse response);
  // A streamed response: the head now, then data, then the end (chunked on HTTP/1.1; on
  // HTTP/1.0 the body ends with the connection). finish_stream() completes the exchange.
  void start_stream(HttpResponse head);
  void write(std::string data);
  void finish_stream();

  // `f` runs once if the client goes away before the exchange completes (the connection was
  // reset or failed, a write stalled past the idle timeout, the server stopped): on the
  // transport thread, or at once on the calling thread when it is gone already. Must not
  // block. A client that only half-closes (shuts down its sending side) is not gone.
  void on_gone(std::function<void()> f);
  bool gone() const;

  // Transport side: the client went away (runs the on_gone callback if the exchange is not
  // complete).
  void notify_gone();

 private:
  void post(detail::Inbox::Action action, bool final);

  const std::shared_ptr<detail::Inbox> inbox_;
  const uint64_t connection_;
  HttpRequest request_;
  const std::string param_;
  detail::BodyReservation reservation_;

  mutable std::mutex mu_;
  bool finished_ = false;  // the final response (or the end of the stream) was posted
  bool gone_ = false;
  std::function<void()> on_gone_;
};

}  // namespace shirg::http
