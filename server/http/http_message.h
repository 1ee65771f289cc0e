#pragma once
// The messages of the HTTP/1.1 transport (server/http): a parsed request, a response to write,
// and the refusals the transport answers by itself. No knowledge of any API on top.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shirg::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive equality (header names, tokens, media types).
bool iequals(std::string_view a, std::string_view b);

struct HttpRequest {
  std::string method;     // as sent, case-sensitive ("GET")
  std::string target;     // the request-target as sent
  std::string path;       // the target's path: no query, absolute-form reduced; not %-decoded
  std::string query;      // after '?' ("" when none)
  int minor_version = 1;  // HTTP/1.<minor_version>
  HeaderList headers;     // arrival order; names as sent; values without surrounding blanks
  std::string body;       // after transfer and content decoding; empty for a bodiless request
  std::string peer;       // the client's "address:port" (logs)

  // The value of the first header called `name` (case-insensitive); nullptr when absent.
  const std::string* header(std::string_view name) const;
  // Every value of the headers called `name`, in arrival order.
  std::vector<std::string_view> header_values(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  // Extra headers. Content-Length, Transfer-Encoding, Connection and Date are the transport's.
  HeaderList headers;
  std::string body;
  std::string content_type;  // empty: no Content-Type header

  void set_header(std::string name, std::string value);  // replaces a header of that name
};

// A request the transport refuses by itself (framing, limits, routing, timeouts, capacity).
// The API on top renders it (server/http/http_server.h ErrorRenderer).
struct HttpError {
  int status = 400;
  std::string code;     // machine-readable, e.g. "payload_too_large", "header_fields_too_large"
  std::string message;  // for a person: what was wrong, with the limit where one applies
  HeaderList headers;   // e.g. Allow (405), Retry-After (429)
};

// "OK", "Not Found", ...; "Unknown" for a status this server never sends.
const char* reason_phrase(int status);

}  // namespace shirg::http
