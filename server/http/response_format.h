#pragma once
// The bytes of HTTP/1.1 responses: status line and headers, chunks of a streamed body.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/http/http_message.h"

namespace shirg::http {

// An interim response sent before the final one (RFC 9110 15.2), HTTP/1.1 clients only.
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// The end of a chunked body (no trailers).
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Status line and headers of `r` for a client speaking HTTP/1.`minor_version`, with Date and
// Connection, and Content-Length: `body_length`, or (nullopt) a streamed body: chunked on
// HTTP/1.1, delimited by the end of the connection on HTTP/1.0 (then `keep_alive` must be
// false). CR, LF and other control characters in header values become spaces.
std::string format_head(const HttpResponse& r, int minor_version, bool keep_alive,
                        std::optional<std::size_t> body_length);

// One chunk of a chunked body ("" must not be sent as a chunk: it would end the body).
std::string format_chunk(std::string_view data);

}  // namespace shirg::http
