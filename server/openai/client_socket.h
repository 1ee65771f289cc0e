#pragma once
// Notices that an HTTP client has gone away while its request waits for the engine.
// cpp-httplib 0.11 (Debian 12) tells a handler nothing about its connection, so the socket is
// found by its address pair (local port + peer address/port are unique per TCP connection) and
// polled for POLLRDHUP/POLLHUP. Linux only.
#include <string>

namespace shirg::rpc::openai {

class ClientSocket {
 public:
  // Finds the connected socket of this process with local port `local_port` and peer
  // `remote_addr`:`remote_port` (IPv4 or IPv6 text as cpp-httplib reports it). Not found: the
  // watcher reports "connected" forever (no cancellation on disconnect, logged by the caller).
  ClientSocket(int local_port, const std::string& remote_addr, int remote_port);

  bool found() const { return fd_ >= 0; }
  // True once the peer has closed or reset the connection. Never blocks.
  bool closed() const;

 private:
  int fd_ = -1;
};

}  // namespace shirg::rpc::openai
