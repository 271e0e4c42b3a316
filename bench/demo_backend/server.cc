#include "bench/demo_backend/server.h"

#include <cstdio>
#include <vector>

#include "bench/demo_backend/connection.h"

namespace hoplite::demo {

namespace {

void onConnectionTrampoline(uv_stream_t* listener, int status) {
  static_cast<Server*>(listener->data)->onConnection(status);
}

// Formats a socket address as "1.2.3.4:port" or "[::1]:port".
std::string formatAddress(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  std::string text;
  if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    uv_ip6_name(v6, host, sizeof host);
    port = ntohs(v6->sin6_port);
    text.append("[").append(host).append("]");
  } else {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    uv_ip4_name(v4, host, sizeof host);
    port = ntohs(v4->sin_port);
    text.append(host);
  }
  // Appending piece by piece: GCC 12's -Wrestrict misfires on chained operator+ at -O3.
  text.append(":").append(std::to_string(port));
  return text;
}

}  // namespace

Server::Server(uv_loop_t* loop) : loop_(loop) {}

Server::~Server() = default;

int Server::listen(const sockaddr* address, std::string& bound) {
  int rc = uv_tcp_init(loop_, &listener_);
  if (rc != 0) return rc;
  listenerOpen_ = true;
  listener_.data = this;
  rc = uv_tcp_bind(&listener_, address, 0);
  if (rc == 0)
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, onConnectionTrampoline);
  if (rc != 0) return rc;
  sockaddr_storage name{};
  int length = sizeof name;
  rc = uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&name), &length);
  if (rc != 0) return rc;
  bound = formatAddress(name);
  return 0;
}

void Server::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (listenerOpen_) {
    listenerOpen_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  // close() only starts closing; each connection leaves the set from its close callback.
  const std::vector<Connection*> live(connections_.begin(), connections_.end());
  for (Connection* connection : live) connection->close();
}

void Server::forget(Connection* connection) {
  connections_.erase(connection);
}

void Server::onConnection(int status) {
  if (status < 0 || stopping_) return;
  auto* connection = new Connection(*this, nextConnectionId_++);
  connections_.insert(connection);
  // On failure the connection closes itself and is freed from its close callback.
  connection->start(reinterpret_cast<uv_stream_t*>(&listener_));
}

}  // namespace hoplite::demo
