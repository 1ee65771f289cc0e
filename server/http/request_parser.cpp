#include "server/http/request_parser.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace shirg::http {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool all_tchar(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// The comma-separated elements of every value (RFC 9110 5.6.1), trimmed; "" for an empty one.
std::vector<std::string> list_elements(const std::vector<std::string_view>& values) {
  std::vector<std::string> out;
  for (std::string_view v : values) {
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = v.find(',', start);
      out.push_back(trim(v.substr(start, comma == std::string_view::npos ? comma : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// A client-supplied value quoted in a message: at most 64 bytes.
std::string quote(std::string_view v) {
  return "'" + std::string(v.substr(0, 64)) + (v.size() > 64 ? "...'" : "'");
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::size_t kMaxMethod = 32;
constexpr int kMaxBlankLines = 8;  // empty lines tolerated before a request line (RFC 9112 2.2)

}  // namespace

RequestParser::RequestParser(const HttpLimits& limits) : limits_(limits) {}

RequestParser::~RequestParser() = default;

void RequestParser::fail(int status, const char* code, std::string message) {
  state_ = State::kError;
  error_ = HttpError{status, code, std::move(message), {}};
}

std::size_t RequestParser::feed(const char* data, std::size_t n) {
  std::size_t used = 0;
  while (used < n && (state_ == State::kHead || state_ == State::kBody)) {
    in_progress_ = true;
    used += (state_ == State::kBody && in_data_) ? feed_data(data + used, n - used)
                                                 : feed_line(data + used, n - used);
  }
  return used;
}

std::size_t RequestParser::feed_line(const char* p, std::size_t n) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
  const std::size_t take = nl ? static_cast<std::size_t>(nl - p) + 1 : n;
  const std::size_t content = nl ? take - 1 : take;
  const bool request_line = line_kind_ == Line::kRequest;
  const std::size_t limit = request_line ? limits_.max_request_line : limits_.max_header_line;
  // + 1: the line's CR, removed in on_line.
  if (line_.size() + content > limit + 1) {
    if (request_line) {
      fail(
          414, "uri_too_long",
          "request line longer than " + std::to_string(limit) + " bytes (method, target, version)");
    } else if (line_kind_ == Line::kChunkSize || line_kind_ == Line::kChunkEnd) {
      fail(400, "invalid_chunk", "chunk-size line longer than " + std::to_string(limit) + " bytes");
    } else {
      fail(431, "header_fields_too_large",
           "request header line longer than " + std::to_string(limit) + " bytes");
    }
    return take;
  }
  if (line_kind_ == Line::kChunkSize || line_kind_ == Line::kChunkEnd) {
    framing_bytes_ += take;
    if (framing_bytes_ > limits_.max_body_bytes) {
      fail(413, "payload_too_large",
           "chunked framing of the request body is larger than " +
               std::to_string(limits_.max_body_bytes) + " bytes");
      return take;
    }
  } else {
    head_bytes_ += take;
    if (head_bytes_ > limits_.max_head_bytes) {
      fail(431, "header_fields_too_large",
           "request head (request line, headers and trailers) larger than " +
               std::to_string(limits_.max_head_bytes) + " bytes");
      return take;
    }
  }
  line_.append(p, content);
  if (nl) {
    on_line(line_);
    line_.clear();
  }
  return take;
}

void RequestParser::on_line(std::string& line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.find('\r') != std::string::npos)
    return fail(400, "bad_request", "a bare CR in the request (lines end with CRLF)");
  const std::size_t limit =
      line_kind_ == Line::kRequest ? limits_.max_request_line : limits_.max_header_line;
  if (line.size() > limit) {  // a line of limit + 1 bytes without CR
    if (line_kind_ == Line::kRequest)
      return fail(414, "uri_too_long",
                  "request line longer than " + std::to_string(limit) + " bytes");
    return fail(431, "header_fields_too_large",
                "request header line longer than " + std::to_string(limit) + " bytes");
  }
  switch (line_kind_) {
    case Line::kRequest:
      if (line.empty()) {
        if (++blank_lines_ > kMaxBlankLines)
          fail(400, "bad_request", "too many empty lines before the request line");
        return;
      }
      parse_request_line(line);
      if (state_ != State::kError) line_kind_ = Line::kHeader;
      return;
    case Line::kHeader:
      if (line.empty()) return finish_head();
      return parse_header_line(line, false);
    case Line::kChunkSize:
      return parse_chunk_size(line);
    case Line::kChunkEnd:
      if (!line.empty()) return fail(400, "invalid_chunk", "chunk data longer than its chunk size");
      line_kind_ = Line::kChunkSize;
      return;
    case Line::kTrailer:
      if (line.empty()) return finish_body();
      return parse_header_line(line, true);
  }
}

void RequestParser::parse_request_line(const std::string& line) {
  const char* malformed = "malformed request line (expected METHOD /path HTTP/1.1)";
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos)
    return fail(400, "bad_request", malformed);
  request_.method = line.substr(0, sp1);
  request_.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string version = line.substr(sp2 + 1);
  if (request_.method.size() > kMaxMethod || !all_tchar(request_.method))
    return fail(400, "bad_request", malformed);
  if (request_.target.empty()) return fail(400, "bad_request", malformed);
  for (char c : request_.target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#')
      return fail(400, "bad_request",
                  "the request target may hold printable ASCII only, without '#' (percent-encode "
                  "other bytes)");
  }
  if (version == "HTTP/1.1") {
    request_.minor_version = 1;
  } else if (version == "HTTP/1.0") {
    request_.minor_version = 0;
  } else if (version.size() == 8 && version.compare(0, 5, "HTTP/") == 0 && version[5] >= '0' &&
             version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
    return fail(505, "http_version_not_supported",
                "HTTP version " + version.substr(5) + " is not supported (HTTP/1.1 or HTTP/1.0)");
  } else {
    return fail(400, "bad_request", malformed);
  }
  // Target forms (RFC 9112 3.2): origin-form "/path?query", absolute-form
  // "http://host/path?query" (reduced to its path), asterisk-form "*".
  std::string rest = request_.target;
  if (rest == "*") {
    request_.path = "*";
    return;
  }
  if (rest.front() != '/') {
    const std::size_t scheme_end = rest.find("://");
    const std::string scheme = scheme_end == std::string::npos ? "" : rest.substr(0, scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https"))
      return fail(400, "bad_request", "the request target must be a path such as /v1/models");
    const std::size_t path_start = rest.find_first_of("/?", scheme_end + 3);
    rest = path_start == std::string::npos ? "/" : rest.substr(path_start);
    if (rest.front() == '?') rest = "/" + rest;
  }
  const std::size_t q = rest.find('?');
  request_.path = rest.substr(0, q);
  request_.query = q == std::string::npos ? "" : rest.substr(q + 1);
}

void RequestParser::parse_header_line(const std::string& line, bool trailer) {
  if (line.front() == ' ' || line.front() == '\t')
    return fail(400, "bad_request", "obsolete line folding in the request head");
  const std::size_t colon = line.find(':');
  if (colon == std::string::npos || colon == 0)
    return fail(400, "bad_request", "malformed header line (expected Name: value)");
  std::string name = line.substr(0, colon);
  if (!all_tchar(name))
    return fail(400, "bad_request",
                "malformed header name " + quote(name) + " (no blanks before the colon)");
  std::string value = trim(std::string_view(line).substr(colon + 1));
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f)
      return fail(400, "bad_request", "header " + quote(name) + " holds a control character");
  }
  if (++header_lines_ > limits_.max_headers)
    return fail(431, "header_fields_too_large",
                "more than " + std::to_string(limits_.max_headers) + " header lines");
  if (!trailer) request_.headers.emplace_back(std::move(name), std::move(value));
}

void RequestParser::finish_head() {
  const HttpRequest& r = request_;
  const std::size_t hosts = r.header_values("Host").size();
  if (hosts > 1 || (r.minor_version == 1 && hosts != 1))
    return fail(400, "bad_request", "an HTTP/1.1 request needs exactly one Host header");

  const auto te = r.header_values("Transfer-Encoding");
  const auto cl = r.header_values("Content-Length");
  if (!te.empty()) {
    if (r.minor_version == 0)
      return fail(400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request");
    if (!cl.empty())
      return fail(400, "bad_request",
                  "a request must not have both Transfer-Encoding and Content-Length");
    const std::vector<std::string> codings = list_elements(te);
    for (const std::string& c : codings)
      if (c.empty()) return fail(400, "bad_request", "malformed Transfer-Encoding");
    if (!iequals(codings.back(), "chunked"))
      return fail(400, "bad_request",
                  "the last Transfer-Encoding must be chunked (the body length is unknown)");
    if (codings.size() > 1)
      return fail(501, "not_implemented",
                  "Transfer-Encoding " + quote(codings.front()) +
                      " is not supported (chunked only; use Content-Encoding for compression)");
    chunked_ = true;
  } else if (!cl.empty()) {
    if (cl.size() > 1) return fail(400, "bad_request", "more than one Content-Length header");
    const std::string_view v = cl.front();
    const bool digits = !v.empty() && v.size() <= 19 && std::all_of(v.begin(), v.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    if (!digits)
      return fail(400, "bad_request", "Content-Length must be a number of bytes, got " + quote(v));
    uint64_t n = 0;
    for (char c : v) n = n * 10 + static_cast<uint64_t>(c - '0');
    content_length_ = n;
    if (n > limits_.max_body_bytes)
      return fail(413, "payload_too_large",
                  "request body is larger than the limit of " +
                      std::to_string(limits_.max_body_bytes) +
                      " bytes (Content-Length: " + std::to_string(n) + ")");
  }

  const auto ce = r.header_values("Content-Encoding");
  if (!ce.empty()) {
    std::vector<std::string> codings;
    for (std::string& c : list_elements(ce)) {
      if (c.empty()) return fail(400, "bad_request", "malformed Content-Encoding");
      if (!iequals(c, "identity")) codings.push_back(std::move(c));
    }
    if (codings.size() > 1)
      return fail(415, "unsupported_media_type",
                  "only one Content-Encoding is supported, got " + quote(ce.front()));
    if (codings.size() == 1) {
      if (iequals(codings[0], "gzip") || iequals(codings[0], "x-gzip"))
        coding_ = BodyInflater::Coding::kGzip;
      else if (iequals(codings[0], "deflate"))
        coding_ = BodyInflater::Coding::kDeflate;
      else
        return fail(415, "unsupported_media_type",
                    "Content-Encoding " + quote(codings[0]) +
                        " is not supported (gzip, deflate or identity)");
    }
  }

  const auto expect = r.header_values("Expect");
  if (!expect.empty() && r.minor_version == 1) {
    if (expect.size() != 1 || !iequals(expect.front(), "100-continue"))
      return fail(417, "expectation_failed",
                  "Expect " + quote(expect.front()) + " is not supported (100-continue only)");
    expects_continue_ = true;
  }

  bool close = false, keep_alive = false;
  for (const std::string& token : list_elements(r.header_values("Connection"))) {
    close = close || iequals(token, "close");
    keep_alive = keep_alive || iequals(token, "keep-alive");
  }
  keep_alive_ = !close && (r.minor_version == 1 || keep_alive);
  state_ = State::kHeadDone;
}

void RequestParser::accept_body() {
  if (state_ != State::kHeadDone) return;
  if (!has_body()) {
    state_ = State::kDone;
    return;
  }
  if (coding_) inflater_ = std::make_unique<BodyInflater>(*coding_);
  // Room for the largest body this request can have, up to 64 MiB: pages not yet written cost
  // no memory, and the body is not copied while it grows.
  constexpr uint64_t kMaxReserve = uint64_t{64} << 20;
  const uint64_t expect = (coding_ || chunked_) ? limits_.max_body_bytes : *content_length_;
  request_.body.reserve(static_cast<std::size_t>(std::min(expect, kMaxReserve)));
  state_ = State::kBody;
  if (chunked_) {
    line_kind_ = Line::kChunkSize;
    in_data_ = false;
  } else {
    remaining_ = *content_length_;
    in_data_ = true;
  }
}

std::size_t RequestParser::feed_data(const char* p, std::size_t n) {
  const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(n, remaining_));
  wire_bytes_ += take;
  remaining_ -= take;
  append_body(p, take);
  if (state_ != State::kBody) return take;
  if (remaining_ == 0) {
    if (chunked_) {
      in_data_ = false;
      line_kind_ = Line::kChunkEnd;
    } else {
      finish_body();
    }
  }
  return take;
}

void RequestParser::append_body(const char* p, std::size_t n) {
  const uint64_t max = limits_.max_body_bytes;
  if (inflater_) {
    switch (inflater_->inflate(p, n, &request_.body, max)) {
      case BodyInflater::Result::kOk:
        return;
      case BodyInflater::Result::kTooLarge:
        return fail(413, "payload_too_large",
                    "request body is larger than the limit of " + std::to_string(max) +
                        " bytes once its Content-Encoding is decoded");
      case BodyInflater::Result::kCorrupt:
        return fail(400, "bad_request", "the request body is not valid for its Content-Encoding");
    }
  }
  if (request_.body.size() + n > max)
    return fail(413, "payload_too_large",
                "request body is larger than the limit of " + std::to_string(max) + " bytes");
  request_.body.append(p, n);
}

void RequestParser::parse_chunk_size(const std::string& line) {
  std::size_t i = 0;
  uint64_t size = 0;
  for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
    if (i == 15) return fail(400, "invalid_chunk", "chunk size has more than 15 hex digits");
    size = size * 16 + static_cast<uint64_t>(hex_value(line[i]));
  }
  std::size_t j = i;
  while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
  if (i == 0 || (j < line.size() && line[j] != ';'))
    return fail(400, "invalid_chunk", "malformed chunk-size line");
  if (size == 0) {
    line_kind_ = Line::kTrailer;
    return;
  }
  if (size > limits_.max_body_bytes - std::min(wire_bytes_, limits_.max_body_bytes))
    return fail(413, "payload_too_large",
                "request body is larger than the limit of " +
                    std::to_string(limits_.max_body_bytes) + " bytes");
  remaining_ = size;
  in_data_ = true;
}

void RequestParser::finish_body() {
  if (inflater_ && inflater_->finish() != BodyInflater::Result::kOk)
    return fail(400, "bad_request", "the request body ends inside its Content-Encoding stream");
  inflater_.reset();
  in_data_ = false;
  state_ = State::kDone;
}

void RequestParser::reset() {
  state_ = State::kHead;
  line_kind_ = Line::kRequest;
  line_.clear();
  in_progress_ = false;
  head_bytes_ = 0;
  header_lines_ = 0;
  blank_lines_ = 0;
  request_ = HttpRequest{};
  error_ = HttpError{};
  content_length_.reset();
  chunked_ = false;
  coding_.reset();
  expects_continue_ = false;
  keep_alive_ = true;
  in_data_ = false;
  remaining_ = 0;
  wire_bytes_ = 0;
  framing_bytes_ = 0;
  inflater_.reset();
}

}  // namespace shirg::http
