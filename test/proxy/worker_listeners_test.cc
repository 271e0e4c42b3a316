// The supervisor's listeners on real loopback sockets: one SO_REUSEPORT socket per worker on one
// port, an address in use refused, and each worker's share of max_connections.
#include "proxy/worker_listeners.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "proxy/supervisor.h"

namespace {

using hoplite::conf::HostPort;
using hoplite::proxy::bindWorkerListeners;

uint16_t portOf(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return ntohs(address.sin_port);
}

bool listening(int fd) {
  int value = 0;
  socklen_t length = sizeof value;
  REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0);
  return value != 0;
}

// A plain listening socket on 127.0.0.1 and a kernel-chosen port.
int plainListener() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  return fd;
}

}  // namespace

TEST_CASE("proxy: each worker gets a listening socket on the one port the kernel chose",
          "[proxy][workers]") {
  auto listeners = bindWorkerListeners({{"127.0.0.1", 0}, {"127.0.0.1", 0}}, 3, 16);
  REQUIRE(listeners.has_value());
  REQUIRE(listeners->sockets.size() == 3);
  REQUIRE(listeners->shown.size() == 2);
  for (size_t address = 0; address < 2; ++address) {
    const uint16_t port = portOf(listeners->sockets[0][address]);
    CHECK(port != 0);
    CHECK(listeners->shown[address] == "127.0.0.1:" + std::to_string(port));
    for (const auto& worker : listeners->sockets) {
      REQUIRE(worker.size() == 2);
      CHECK(portOf(worker[address]) == port);
      CHECK(listening(worker[address]));
    }
  }
  // Port 0 twice is two ports, as for a single process.
  CHECK(portOf(listeners->sockets[0][0]) != portOf(listeners->sockets[0][1]));
  listeners->closeAllBut(1);
  CHECK(listeners->sockets[0].empty());
  CHECK(listeners->sockets[1].size() == 2);
  CHECK(listening(listeners->sockets[1][0]));
  listeners->closeAllBut(-1);
  CHECK(listeners->sockets[1].empty());
}

TEST_CASE("proxy: an address another socket listens on is refused", "[proxy][workers]") {
  const int taken = plainListener();
  const uint16_t port = portOf(taken);
  CHECK_FALSE(bindWorkerListeners({{"127.0.0.1", 0}, {"127.0.0.1", port}}, 2, 16).has_value());
  ::close(taken);
  // Free again: the same port binds now.
  auto listeners = bindWorkerListeners({{"127.0.0.1", port}}, 2, 16);
  REQUIRE(listeners.has_value());
  CHECK(portOf(listeners->sockets[1][0]) == port);
  listeners->closeAllBut(-1);
}

TEST_CASE("proxy: a worker's share of a limit is rounded up", "[proxy][workers]") {
  using hoplite::proxy::workerShare;
  CHECK(workerShare(10000, 1) == 10000);
  CHECK(workerShare(10000, 4) == 2500);
  CHECK(workerShare(10001, 4) == 2501);
  CHECK(workerShare(1, 8) == 1);
  CHECK(workerShare(18446744073709551615u, 2) == 9223372036854775808u);
}
