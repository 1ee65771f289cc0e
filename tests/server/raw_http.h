#pragma once
// A raw-socket HTTP/1.1 client for tests: sends exactly the bytes a test gives (malformed,
// slow, pipelined, half-closed) and reads responses as they come, with a bound on every wait.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shirg::testing {

struct RawResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // de-chunked
  // The first header called `name` (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

class RawConn {
 public:
  // Connects to 127.0.0.1:`port`; throws std::runtime_error when it cannot.
  explicit RawConn(int port);
  ~RawConn();
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  // Sends all of `bytes`; false when the peer reset or closed the connection.
  bool send(std::string_view bytes);
  void shutdown_write();
  // Reads the next response (interim 1xx responses included) within `timeout`; nullopt when
  // none came (timeout, or the connection closed before a complete response). `head`: the
  // response to a HEAD request (no body whatever its Content-Length says).
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10), bool head = false);
  // The next final (>= 200) response, skipping interim ones.
  std::optional<RawResponse> read_final(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the peer closes (EOF or reset) within `timeout`, reading and dropping any bytes.
  bool wait_closed(std::chrono::milliseconds timeout);
  int fd() const { return fd_; }

 private:
  // Reads more bytes into buf_ until `until` passes; false on EOF/reset/timeout.
  bool fill(std::chrono::steady_clock::time_point until);
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// Standard base64 with padding (data: URLs in request bodies).
std::string base64(const std::string& bytes);

// One request on a new connection, returning the final response (nullopt: none in `timeout`).
std::optional<RawResponse> raw_request(
    int port, const std::string& bytes,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));
// "GET <path>" with Host and Connection: close; the final response.
std::optional<RawResponse> http_get(int port, const std::string& path,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace shirg::testing
