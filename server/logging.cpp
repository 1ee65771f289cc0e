#include "server/logging.h"

#include <google/protobuf/stubs/logging.h>
#include <grpc/support/log.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace shirg::rpc {
namespace {

thread_local std::string t_request_id;

std::string utc_timestamp(std::chrono::system_clock::time_point tp) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
std::size_t utf8_len(const std::string& s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  uint32_t cp = 0;
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0)
    n = 2, cp = b & 0x1F;
  else if ((b & 0xF0) == 0xE0)
    n = 3, cp = b & 0x0F;
  else if ((b & 0xF8) == 0xF0)
    n = 4, cp = b & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c >= 0x80) {
      const std::size_t n = utf8_len(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(s, i, n);
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
}

// Text-format logs show what a client sent (paths, names, values in messages) but never let it
// start a line or drive the terminal: control characters (C0, DEL, C1) and bytes that are not
// UTF-8 are written as escapes (\n, \r, \xHH, \u00HH); a tab stays a tab.
void append_text_escaped(std::string& out, const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char buf[8];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else if (c >= 0x80) {
      const std::size_t n = utf8_len(s, i);
      if (n == 0) {
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
        ++i;
        continue;
      }
      if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0) {  // C1: U+0080-9F
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(s[i + 1]));
        out += buf;
      } else {
        out.append(s, i, n);
      }
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
}

std::string level_name(spdlog::level::level_enum l) {
  const auto sv = spdlog::level::to_string_view(l);
  return std::string(sv.data(), sv.size());
}

class ServerFormatter final : public spdlog::formatter {
 public:
  explicit ServerFormatter(LogFormat f) : format_(f) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string ts = utc_timestamp(msg.time);
    const std::string level = level_name(msg.level);
    const std::string text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (format_ == LogFormat::kJson) {
      line = format_json_line(ts, level, t_request_id, text);
    } else {
      line = format_text_line(ts, level, t_request_id, text);
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<ServerFormatter>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

std::string format_text_line(const std::string& ts, const std::string& level,
                             const std::string& request_id, const std::string& msg) {
  std::string line =
      ts + " " + level + (level.size() < 5 ? std::string(5 - level.size(), ' ') : "");
  if (!request_id.empty()) {
    line += " [req=";
    append_text_escaped(line, request_id);
    line += "]";
  }
  line += " ";
  append_text_escaped(line, msg);
  return line;
}

std::string format_json_line(const std::string& ts, const std::string& level,
                             const std::string& request_id, const std::string& msg) {
  std::string out = "{\"ts\":";
  append_json_string(out, ts);
  out += ",\"level\":";
  append_json_string(out, level);
  if (!request_id.empty()) {
    out += ",\"request_id\":";
    append_json_string(out, request_id);
  }
  out += ",\"msg\":";
  append_json_string(out, msg);
  out += '}';
  return out;
}

namespace {

// libprotobuf's and gRPC core's own log lines go through our logger (JSON under --log-format
// json), instead of their plain-text stderr lines.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  const auto lvl = level >= google::protobuf::LOGLEVEL_ERROR     ? spdlog::level::warn
                   : level == google::protobuf::LOGLEVEL_WARNING ? spdlog::level::warn
                                                                 : spdlog::level::debug;
  spdlog::log(lvl, "libprotobuf {}:{}: {}", file ? file : "?", line, message);
}

void grpc_log(gpr_log_func_args* args) {
  const auto lvl = args->severity == GPR_LOG_SEVERITY_ERROR  ? spdlog::level::err
                   : args->severity == GPR_LOG_SEVERITY_INFO ? spdlog::level::info
                                                             : spdlog::level::debug;
  spdlog::log(lvl, "grpc {}:{}: {}", args->file ? args->file : "?", args->line,
              args->message ? args->message : "");
}

}  // namespace

void setup_logging(LogFormat format, const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    throw std::invalid_argument("unknown log level '" + level + "'");
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("shirg", sink);
  logger->set_formatter(std::make_unique<ServerFormatter>(format));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  google::protobuf::SetLogHandler(&protobuf_log);
  gpr_set_log_function(&grpc_log);
}

const std::string& thread_request_id() {
  return t_request_id;
}
void set_thread_request_id(const std::string& id) {
  t_request_id = id;
}
void clear_thread_request_id() {
  t_request_id.clear();
}

RequestIdScope::RequestIdScope(const std::string& id) : previous_(t_request_id) {
  t_request_id = id;
}
RequestIdScope::~RequestIdScope() {
  t_request_id = previous_;
}

}  // namespace shirg::rpc
