#include "server/http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>

namespace shirg::http {
namespace {

std::string openssl_error() {
  char buf[256] = "unknown error";
  if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

TlsContext::TlsContext(const std::string& cert_file, const std::string& key_file) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) throw std::runtime_error("TLS: cannot create a context: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  // A peer that closes without close_notify reads as an ordinary end of stream.
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                             SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx_) != 1) {
    const std::string why = openssl_error();
    SSL_CTX_free(ctx_);
    throw std::runtime_error("cannot load --tls-cert '" + cert_file + "' / --tls-key '" + key_file +
                             "' for the HTTP API: " + why);
  }
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(const TlsContext& ctx, int fd) {
  ssl_ = SSL_new(ctx.get());
  if (!ssl_) throw std::runtime_error("TLS: SSL_new failed: " + openssl_error());
  SSL_set_fd(ssl_, fd);
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

IoStatus TlsSession::status_of(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return IoStatus::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return IoStatus::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return IoStatus::kEof;
    default:
      ERR_clear_error();
      return IoStatus::kError;
  }
}

IoStatus TlsSession::handshake() {
  const int ret = SSL_do_handshake(ssl_);
  return ret == 1 ? IoStatus::kOk : status_of(ret);
}

IoStatus TlsSession::read(char* buf, std::size_t n, std::size_t* done) {
  *done = 0;
  const int ret = SSL_read_ex(ssl_, buf, n, done);
  return ret == 1 ? IoStatus::kOk : status_of(ret);
}

IoStatus TlsSession::write(const char* buf, std::size_t n, std::size_t* done) {
  *done = 0;
  const int ret = SSL_write_ex(ssl_, buf, n, done);
  return ret == 1 ? IoStatus::kOk : status_of(ret);
}

void TlsSession::shutdown() {
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace shirg::http
