#include "proxy/worker_listeners.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "conf/host_port.h"
#include "proxy/socket.h"
#include "proxy/upstream/server_address.h"

namespace hoplite::proxy {

namespace {

// `listen` holds IP literals only (conf/ refuses names), so no resolver is needed.
using upstream::literalAddress;

void setPort(sockaddr_storage& address, uint16_t port) {
  if (address.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  }
}

socklen_t lengthOf(const sockaddr_storage& address) {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// A bound TCP socket with the options a single process gets from uv_tcp_bind (SO_REUSEADDR, and
// IPV6_V6ONLY as conf::listensIpv6Only says), plus SO_REUSEPORT when asked. -errno on failure.
int boundSocket(const sockaddr_storage& address, bool ipv6Only, bool reusePort) {
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  const int on = 1;
  const int v6Only = ipv6Only ? 1 : 0;
  int rc = ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (rc == 0 && reusePort) rc = ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  if (rc == 0 && address.ss_family == AF_INET6) {
    rc = ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6Only, sizeof v6Only);
  }
  if (rc == 0) rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), lengthOf(address));
  if (rc != 0) {
    const int error = errno;
    ::close(fd);
    return -error;
  }
  return fd;
}

// Binds one socket per worker for `address`. The first bind, without SO_REUSEPORT, finds out
// whether the address is free and which port the kernel picks for port 0; it is closed before
// the workers' sockets take that port (a listening socket leaves no TIME_WAIT behind).
bool bindAddress(const conf::HostPort& configured, bool ipv6Only, uint32_t workers, int backlog,
                 bool joinExisting, WorkerListeners& out) {
  const std::string shown = addressAsWritten(configured);
  sockaddr_storage address;
  if (!literalAddress(configured, address)) {
    std::fprintf(stderr, "hoplite: cannot parse listen address %s\n", shown.c_str());
    return false;
  }
  if (!joinExisting) {
    const int probe = boundSocket(address, ipv6Only, /*reusePort=*/false);
    if (probe < 0) {
      std::fprintf(stderr, "hoplite: cannot listen on %s: %s\n", shown.c_str(),
                   std::strerror(-probe));
      return false;
    }
    sockaddr_storage bound;
    socklen_t length = sizeof bound;
    ::getsockname(probe, reinterpret_cast<sockaddr*>(&bound), &length);
    ::close(probe);
    setPort(address, ntohs(address.ss_family == AF_INET6
                               ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                               : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port));
  }
  for (uint32_t worker = 0; worker < workers; ++worker) {
    const int fd = boundSocket(address, ipv6Only, /*reusePort=*/true);
    if (fd < 0 || ::listen(fd, backlog) != 0) {
      const int error = fd < 0 ? -fd : errno;
      if (fd >= 0) ::close(fd);
      std::fprintf(stderr, "hoplite: cannot listen on %s for worker %u: %s\n",
                   addressText(address).c_str(), worker + 1, std::strerror(error));
      return false;
    }
    out.sockets[worker].push_back(fd);
  }
  out.shown.push_back(addressText(address));
  conf::HostPort real = configured;
  real.port = ntohs(address.ss_family == AF_INET6
                        ? reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port
                        : reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
  out.bound.push_back(real);
  return true;
}

}  // namespace

void WorkerListeners::closeAllBut(int keep) {
  for (size_t worker = 0; worker < sockets.size(); ++worker) {
    if (static_cast<int>(worker) == keep) continue;
    for (const int fd : sockets[worker]) ::close(fd);
    sockets[worker].clear();
  }
}

std::optional<WorkerListeners> bindWorkerListeners(const std::vector<conf::HostPort>& addresses,
                                                   uint32_t workers, int backlog,
                                                   bool joinExisting) {
  WorkerListeners listeners;
  listeners.sockets.resize(workers);
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (!bindAddress(addresses[i], conf::listensIpv6Only(addresses, i), workers, backlog,
                     joinExisting, listeners)) {
      listeners.closeAllBut(-1);
      return std::nullopt;
    }
  }
  return listeners;
}

std::string addressAsWritten(const conf::HostPort& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

std::string probeListenAddress(const conf::HostPort& address, bool ipv6Only) {
  sockaddr_storage socketAddress;
  if (!literalAddress(address, socketAddress)) return "not an IP address";
  const int probe = boundSocket(socketAddress, ipv6Only, /*reusePort=*/false);
  if (probe < 0) return std::strerror(-probe);
  ::close(probe);
  return {};
}

int bindReusePortSocket(const conf::HostPort& address, bool ipv6Only) {
  sockaddr_storage socketAddress;
  if (!literalAddress(address, socketAddress)) return -EINVAL;
  return boundSocket(socketAddress, ipv6Only, /*reusePort=*/true);
}

}  // namespace hoplite::proxy
