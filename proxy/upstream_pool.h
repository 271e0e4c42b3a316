// One upstream's servers (round robin) and its idle keep-alive connections.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "conf/config.h"
#include "proxy/socket.h"

namespace hoplite::proxy {

// Idle connections are kept reading: any byte, EOF or error from an idle connection means the
// server closed it (or broke HTTP), and the connection is dropped at once instead of failing the
// next request. A request that still meets a stale connection is retried once by the Session.
class UpstreamPool final : private SocketHandler {
 public:
  explicit UpstreamPool(const conf::Upstream& upstream);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const std::string& name() const { return upstream_.name; }
  // The next server in round-robin order.
  const conf::HostPort& nextServer();
  // The most recently parked idle connection (its peer is the least likely to have timed it
  // out), or nullptr. The caller becomes its owner and handler; reading is stopped.
  std::unique_ptr<Socket> takeIdle();
  // Parks a connection whose last response completed cleanly, or disposes of it when the pool
  // holds `keepalive` already or is closed.
  void release(std::unique_ptr<Socket> socket);
  // Disposes of every idle connection and refuses later ones (shutdown).
  void closeAll();

 private:
  void drop(Socket& socket);
  void onSocketRead(Socket& socket) override { drop(socket); }
  void onSocketBufferFull(Socket& socket) override { drop(socket); }
  void onSocketEof(Socket& socket) override { drop(socket); }
  void onSocketError(Socket& socket, int, const char*) override { drop(socket); }
  void onSocketWritten(Socket&) override {}
  void onSocketConnected(Socket&) override {}
  void onSocketShutdown(Socket&) override {}

  conf::Upstream upstream_;
  size_t nextServer_ = 0;
  std::vector<std::unique_ptr<Socket>> idle_;  // oldest first
  bool closed_ = false;
};

}  // namespace hoplite::proxy
