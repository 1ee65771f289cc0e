#pragma once
// Incremental HTTP/1.1 request parser (RFC 9112) with every byte bounded before it is kept:
// the request line, each header line, the number of headers and the whole head have limits
// (HttpLimits), and the body is counted on the wire and after content decoding. It never
// reads past the end of one request, so pipelined requests stay with the caller, and it stops
// after the head (kHeadDone) so the caller can vet the request (route, credentials, capacity)
// before a single body byte is read.
//
// Framing (RFC 9112 6): Content-Length (one header, digits only; several: 400), or
// Transfer-Encoding: chunked (HTTP/1.1 only; with Content-Length: 400; other codings: 501);
// neither: no body. Content-Encoding gzip, x-gzip or deflate is decoded with the limit applied
// to the decoded bytes; other codings: 415. HTTP/1.1 needs one Host header (RFC 9112 3.2).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "server/http/body_inflater.h"
#include "server/http/http_limits.h"
#include "server/http/http_message.h"

namespace shirg::http {

class RequestParser {
 public:
  enum class State {
    kHead,      // reading the request line and the headers
    kHeadDone,  // the head is complete and valid; no body byte read (accept_body() goes on)
    kBody,      // reading the body
    kDone,      // the request is complete: request() holds it
    kError,     // refused: error() says why; the connection cannot be used further
  };

  explicit RequestParser(const HttpLimits& limits);
  ~RequestParser();

  // Consumes bytes from `data` and returns how many it used. Stops at kHeadDone, kDone and
  // kError; what it did not use belongs to a later phase or to the next request.
  std::size_t feed(const char* data, std::size_t n);
  // kHeadDone -> kBody, or kDone when the request has no body.
  void accept_body();
  // Ready for the next request on the connection (after kDone).
  void reset();

  State state() const { return state_; }
  // A byte of the current request (blank lines before it included) was consumed.
  bool in_progress() const { return in_progress_; }
  // The request line was parsed (request() has method, target, path, version; the headers
  // may be incomplete when an error came later).
  bool request_line_done() const { return line_kind_ != Line::kRequest; }
  const HttpError& error() const { return error_; }
  HttpRequest& request() { return request_; }
  const HttpRequest& request() const { return request_; }

  // Known from kHeadDone on.
  bool has_body() const { return chunked_ || content_length_.value_or(0) > 0; }
  bool has_framing() const { return chunked_ || content_length_.has_value(); }
  bool chunked() const { return chunked_; }
  bool content_encoded() const { return coding_.has_value(); }
  std::optional<uint64_t> content_length() const { return content_length_; }
  bool expects_continue() const { return expects_continue_; }
  // The client lets the connection stay open after this request (HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive").
  bool keep_alive() const { return keep_alive_; }

 private:
  enum class Line { kRequest, kHeader, kChunkSize, kChunkEnd, kTrailer };
  std::size_t feed_line(const char* p, std::size_t n);
  std::size_t feed_data(const char* p, std::size_t n);
  void on_line(std::string& line);
  void parse_request_line(const std::string& line);
  void parse_header_line(const std::string& line, bool trailer);
  void parse_chunk_size(const std::string& line);
  void finish_head();
  void append_body(const char* p, std::size_t n);
  void finish_body();
  void fail(int status, const char* code, std::string message);

  HttpLimits limits_;
  State state_ = State::kHead;
  Line line_kind_ = Line::kRequest;
  std::string line_;  // the current, incomplete line (bounded by the line limits)
  bool in_progress_ = false;
  std::size_t head_bytes_ = 0;
  std::size_t header_lines_ = 0;
  int blank_lines_ = 0;
  HttpRequest request_;
  HttpError error_;

  std::optional<uint64_t> content_length_;
  bool chunked_ = false;
  std::optional<BodyInflater::Coding> coding_;
  bool expects_continue_ = false;
  bool keep_alive_ = true;

  bool in_data_ = false;        // kBody: reading body bytes (else chunked framing lines)
  uint64_t remaining_ = 0;      // identity body: bytes still to come; chunked: of this chunk
  uint64_t wire_bytes_ = 0;     // body bytes on the wire so far (chunk data, not framing)
  uint64_t framing_bytes_ = 0;  // chunk-size and chunk-end lines (bounded like the body)
  std::unique_ptr<BodyInflater> inflater_;
};

}  // namespace shirg::http
