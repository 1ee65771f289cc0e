#pragma once
// TLS for the HTTP transport (OpenSSL, Debian 12's libssl3) on non-blocking sockets: a server
// context made from PEM files, and one session per connection whose calls never block and say
// which direction they wait for.
#include <cstddef>
#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace shirg::http {

class TlsContext {
 public:
  // TLS 1.2 and 1.3 with the certificate chain and private key from PEM files. Throws
  // std::runtime_error when they cannot be loaded or do not match.
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

// Outcome of a non-blocking call.
enum class IoStatus {
  kOk,         // *done bytes moved (> 0), or the handshake completed
  kWantRead,   // retry once the socket is readable
  kWantWrite,  // retry once the socket is writable
  kEof,        // the peer closed its sending side (FIN or TLS close_notify)
  kError,      // the connection is broken (reset, protocol error)
};

class TlsSession {
 public:
  TlsSession(const TlsContext& ctx, int fd);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  IoStatus handshake();
  IoStatus read(char* buf, std::size_t n, std::size_t* done);
  IoStatus write(const char* buf, std::size_t n, std::size_t* done);
  // Sends close_notify (best effort, never blocks).
  void shutdown();

 private:
  IoStatus status_of(int ret);
  SSL* ssl_ = nullptr;
};

}  // namespace shirg::http
