#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/http/response_format.h"
#include "server/http/server_impl.h"

namespace shirg::http {

using namespace loop;

namespace {

// "application/json; charset=utf-8" is of media type "application/json".
bool media_type_is(const std::string& content_type, const std::string& type) {
  std::string_view t(content_type);
  t = t.substr(0, t.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  return iequals(t, type);
}

std::string ms_text(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace

// ---------------------------------------------------------------- requests

bool HttpServer::Impl::process(Conn& c) {
  for (;;) {
    if (c.phase != Phase::kWaiting && c.phase != Phase::kHead && c.phase != Phase::kBody)
      return true;
    switch (c.parser.state()) {
      case RequestParser::State::kHeadDone:
        if (!on_head(c)) return false;
        continue;
      case RequestParser::State::kDone:
        if (!dispatch(c)) return false;
        continue;
      case RequestParser::State::kError:
        return refuse(c, c.parser.error());
      case RequestParser::State::kHead:
      case RequestParser::State::kBody:
        break;
    }
    if (c.in.empty()) return true;
    const std::size_t used = c.parser.feed(c.in.data(), c.in.size());
    c.in.erase(0, used);
    if (c.phase == Phase::kWaiting && c.parser.in_progress()) {
      c.phase = Phase::kHead;
      c.since = now;
      if (!c.fresh) c.phase_deadline = now + opt.timeouts.header;
      c.read_deadline = now + opt.timeouts.idle;
    }
  }
}

bool HttpServer::Impl::on_head(Conn& c) {
  HttpRequest& head = c.parser.request();
  head.peer = c.peer;
  c.head_parsed = true;
  c.minor = head.minor_version;
  c.head_only = head.method == "HEAD";
  Router::Match m = router.match(head.method, head.path);
  const bool bodiless = !c.parser.has_body();
  if (!m.route) {
    const bool keep = bodiless && c.parser.keep_alive();
    if (!is_standard_method(head.method))
      return refuse(
          c, {501, "not_implemented", "method " + head.method + " is not implemented", {}}, keep);
    if (!m.allow.empty())
      return refuse(c,
                    {405,
                     "method_not_allowed",
                     "method " + head.method + " is not allowed on " + head.path +
                         " (allowed: " + m.allow + ")",
                     {{"Allow", m.allow}}},
                    keep);
    return refuse(c, {404, "not_found", "no route " + head.method + " " + head.path, {}}, keep);
  }
  c.route = m.route;
  c.param = std::move(m.param);
  const Route& r = *m.route;
  if (r.check_head) {
    std::optional<HttpResponse> refusal;
    try {
      refusal = r.check_head(head);
    } catch (const std::exception& e) {
      spdlog::error("HTTP transport: check of {} {} failed: {}", head.method, head.path, e.what());
      refusal = HttpResponse{500, {}, "internal error\n", "text/plain; charset=utf-8"};
    }
    if (refusal) {
      queue_response(c, *refusal, bodiless && c.parser.keep_alive());
      return flush(c);
    }
  }
  if (!r.body_type.empty()) {
    if (!c.parser.has_framing())
      return refuse(
          c, {411,
              "length_required",
              head.method + " " + head.path + " needs a body sent with Content-Length (or chunked)",
              {}});
    const std::string* ct = head.header("Content-Type");
    if (!ct || !media_type_is(*ct, r.body_type))
      return refuse(c, {415,
                        "unsupported_media_type",
                        "the body must be sent as Content-Type: " + r.body_type +
                            (ct ? ", got '" + ct->substr(0, 64) + "'" : " (none was given)"),
                        {}});
  }
  if (bodiless) {
    c.parser.accept_body();  // kDone
    return true;
  }
  if (r.body_type.empty()) {  // a body the route does not take: never read
    c.body_skipped = true;
    return dispatch(c);
  }
  const uint64_t want = (c.parser.chunked() || c.parser.content_encoded())
                            ? opt.limits.max_body_bytes
                            : *c.parser.content_length();
  if (!budget->try_reserve(want))
    return refuse(c, {429,
                      "too_many_requests",
                      "the server holds too many request bodies at once (" +
                          std::to_string(budget->limit() >> 20) + " MiB); retry shortly",
                      {{"Retry-After", "1"}}});
  c.reservation = detail::BodyReservation(budget, want);
  if (c.parser.expects_continue()) queue_out(c, kContinue);
  c.parser.accept_body();
  c.phase = Phase::kBody;
  c.since = now;
  c.phase_deadline = now + opt.timeouts.body;
  c.read_deadline = now + opt.timeouts.idle;
  return flush(c);
}

bool HttpServer::Impl::dispatch(Conn& c) {
  HttpRequest req = std::move(c.parser.request());
  req.peer = c.peer;
  c.keep_alive = c.parser.keep_alive() && !c.body_skipped;
  c.parser.reset();
  auto ex = std::make_shared<Exchange>(inbox, c.id, std::move(req), std::move(c.param),
                                       std::move(c.reservation));
  c.exchange = ex;
  c.phase = Phase::kAnswering;
  c.phase_deadline = kNever;
  c.read_deadline = kNever;
  const Route* route = c.route;
  auto run = [route, ex] {
    try {
      route->handle(ex);
    } catch (const std::exception& e) {
      spdlog::error("HTTP handler of {} {} failed: {}", ex->request().method, ex->request().path,
                    e.what());
      ex->respond(HttpResponse{500, {}, "internal error\n", "text/plain; charset=utf-8"});
    }
  };
  if (route->offload)
    pool->post(std::move(run));
  else
    run();
  if (c.fin_seen) probe(c);
  return conns.count(ex->connection()) > 0;
}

bool HttpServer::Impl::refuse(Conn& c, HttpError e, bool keep_alive) {
  {
    std::lock_guard<std::mutex> lock(stats_mu);
    ++refusals[e.status];
  }
  // What is known of the request: its line (and headers so far) when the error came later,
  // and its route (for the renderer's metrics) even when the head itself was refused.
  const HttpRequest* head =
      c.parser.request_line_done() || c.head_parsed ? &c.parser.request() : nullptr;
  const Route* route = c.route;
  if (head) {
    c.minor = head->minor_version;
    c.head_only = head->method == "HEAD";
    if (!route) route = router.match(head->method, head->path).route;
  } else {
    c.minor = 1;
    c.head_only = false;
  }
  HttpResponse r;
  try {
    r = render(e, head, route, c.peer);
  } catch (const std::exception& ex) {
    r = HttpResponse{e.status, {}, e.message + "\n", "text/plain; charset=utf-8"};
  }
  for (const auto& [k, v] : e.headers) r.set_header(k, v);
  queue_response(c, r, keep_alive);
  return flush(c);
}

void HttpServer::Impl::queue_response(Conn& c, const HttpResponse& r, bool keep_alive) {
  const bool keep = keep_alive && !stopping.load();
  queue_out(c, format_head(r, c.minor, keep, r.body.size()));
  if (!c.head_only) queue_out(c, r.body);
  c.exchange.reset();  // complete: no longer told about the client going away
  c.response_started = true;
  c.response_queued = true;
  c.close_after = !keep;
  c.phase = Phase::kAnswering;
  c.phase_deadline = kNever;
  c.read_deadline = kNever;
}

bool HttpServer::Impl::after_response(Conn& c) {
  c.response_queued = false;
  c.response_started = false;
  c.streaming = false;
  c.probed = false;
  c.route = nullptr;
  c.param.clear();
  c.head_parsed = false;
  c.reservation.reset();
  if (c.close_after || c.body_skipped) return begin_closing(c);
  c.parser.reset();
  c.fresh = false;
  c.phase = Phase::kWaiting;
  c.since = now;
  c.phase_deadline = now + opt.timeouts.keepalive;
  c.read_deadline = kNever;
  kicks.push_back(c.id);  // resume(): requests read meanwhile (pipelined), then the socket
  return true;
}

void HttpServer::Impl::resume(Conn& c) {
  if (!process(c)) return;
  if (c.eof && (c.phase == Phase::kWaiting || c.phase == Phase::kHead || c.phase == Phase::kBody)) {
    close_conn(c);  // the client sent its last request: nothing more can come
    return;
  }
  if (on_readable(c)) update_interest(c);
}

// Graceful close: the answer is sent; shut our sending side and read (discarding) until the
// client closes or the linger time passes, so unread request bytes do not make the kernel reset
// the connection before the client has read the answer.
bool HttpServer::Impl::begin_closing(Conn& c) {
  if (c.eof) return gone(c);
  if (c.tls) c.tls->shutdown();
  ::shutdown(c.fd, SHUT_WR);
  c.phase = Phase::kClosing;
  c.since = now;
  c.phase_deadline = now + opt.timeouts.linger;
  c.read_deadline = kNever;
  c.in.clear();
  kicks.push_back(c.id);
  return true;
}

void HttpServer::Impl::on_timeout(Conn& c) {
  if (c.write_deadline <= now) {
    spdlog::debug("HTTP transport: {} accepted no byte for {}: closed", c.peer,
                  ms_text(opt.timeouts.idle));
    close_conn(c);
    return;
  }
  switch (c.phase) {
    case Phase::kHead:
      if (refuse(c, {408,
                     "request_timeout",
                     c.phase_deadline <= now
                         ? "the request head did not arrive within " + ms_text(opt.timeouts.header)
                         : "no byte of the request head for " + ms_text(opt.timeouts.idle),
                     {}}))
        update_interest(c);
      return;
    case Phase::kBody:
      if (refuse(c, {408,
                     "request_timeout",
                     c.phase_deadline <= now
                         ? "the request body did not arrive within " + ms_text(opt.timeouts.body)
                         : "no byte of the request body for " + ms_text(opt.timeouts.idle),
                     {}}))
        update_interest(c);
      return;
    case Phase::kAnswering:
      return;
    case Phase::kHandshake:
    case Phase::kWaiting:
    case Phase::kClosing:
      close_conn(c);
      return;
  }
}

// ---------------------------------------------------------------- exchange actions

void HttpServer::Impl::respond(Exchange& ex, HttpResponse r) {
  Conn* c = current(ex);
  if (!c || c->response_started) return;
  queue_response(*c, r, c->keep_alive);
  finish_action(*c);
}

void HttpServer::Impl::start_stream(Exchange& ex, HttpResponse head) {
  Conn* c = current(ex);
  if (!c || c->response_started) return;
  c->response_started = true;
  c->streaming = true;
  if (c->minor < 1 || stopping.load()) c->keep_alive = false;  // HTTP/1.0: ends with the close
  queue_out(*c, format_head(head, c->minor, c->keep_alive, std::nullopt));
  finish_action(*c);
}

void HttpServer::Impl::write(Exchange& ex, std::string data) {
  Conn* c = current(ex);
  if (!c || !c->streaming || data.empty()) return;
  if (c->minor >= 1)
    queue_out(*c, format_chunk(data));
  else
    queue_out(*c, data);
  finish_action(*c);
}

void HttpServer::Impl::finish_stream(Exchange& ex) {
  Conn* c = current(ex);
  if (!c || !c->streaming) return;
  if (c->minor >= 1) queue_out(*c, kLastChunk);
  c->streaming = false;
  c->exchange.reset();
  c->response_queued = true;
  c->close_after = !c->keep_alive;
  finish_action(*c);
}

}  // namespace shirg::http
