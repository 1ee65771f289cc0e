#pragma once
// Server logging through spdlog's default logger (stderr), as text or JSON lines. Every line
// logged on a thread while a request id is attached (RequestIdScope, or set_thread_request_id
// between an engine request's on_started and on_done) carries that id:
//   text: 2024-05-01T12:00:00.123Z info  [req=abc123] message
//   json: {"ts":"2024-05-01T12:00:00.123Z","level":"info","request_id":"abc123","msg":"message"}
#include <spdlog/spdlog.h>

#include <string>

namespace shirg::rpc {

enum class LogFormat { kText, kJson };

// Installs the default logger: stderr, the given format, level ("trace".."error"), flush on
// every line at info and above; libprotobuf's and gRPC core's log lines are routed through it.
// Throws std::invalid_argument on an unknown level.
void setup_logging(LogFormat format, const std::string& level);

// The request id attached to the calling thread ("" if none).
const std::string& thread_request_id();
void set_thread_request_id(const std::string& id);
void clear_thread_request_id();

// Attaches `id` to the calling thread for the scope's lifetime (restores the previous one).
class RequestIdScope {
 public:
  explicit RequestIdScope(const std::string& id);
  ~RequestIdScope();
  RequestIdScope(const RequestIdScope&) = delete;
  RequestIdScope& operator=(const RequestIdScope&) = delete;

 private:
  std::string previous_;
};

// One text line for a log record (exposed for tests): ts, level padded to 5, "[req=ID]" when
// present, msg. Control characters and bytes that are not UTF-8 in the id and the message are
// escaped (\n, \r, \xHH, \u00HH for C1), so what a client sent cannot start a line or
// reach the terminal raw.
std::string format_text_line(const std::string& ts, const std::string& level,
                             const std::string& request_id, const std::string& msg);

// One JSON line for a log record (exposed for tests): ts (UTC, ms), level, request_id when
// present, msg. Strings are JSON-escaped (control characters as \u00XX).
std::string format_json_line(const std::string& ts, const std::string& level,
                             const std::string& request_id, const std::string& msg);

}  // namespace shirg::rpc
