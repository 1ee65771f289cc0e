#include "server/http/response_format.h"

#include <cstdio>
#include <ctime>

namespace shirg::http {
namespace {

// IMF-fixdate (RFC 9110 5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 && c != '\t') || u == 0x7f ? ' ' : c;
  }
  out += "\r\n";
}

}  // namespace

std::string format_head(const HttpResponse& r, int minor_version, bool keep_alive,
                        std::optional<std::size_t> body_length) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  append_header(out, "Date", http_date());
  if (!r.content_type.empty()) append_header(out, "Content-Type", r.content_type);
  for (const auto& [name, value] : r.headers) append_header(out, name, value);
  if (body_length) {
    append_header(out, "Content-Length", std::to_string(*body_length));
  } else if (minor_version >= 1) {
    append_header(out, "Transfer-Encoding", "chunked");
  }
  if (!keep_alive)
    append_header(out, "Connection", "close");
  else if (minor_version == 0)
    append_header(out, "Connection", "keep-alive");
  out += "\r\n";
  return out;
}

std::string format_chunk(std::string_view data) {
  char size[20];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out = size;
  out.append(data);
  out += "\r\n";
  return out;
}

}  // namespace shirg::http
