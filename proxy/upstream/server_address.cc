#include "proxy/upstream/server_address.h"

#include <netinet/in.h>
#include <uv.h>

#include <cstring>

namespace hoplite::proxy::upstream {

bool literalAddress(const conf::HostPort& target, struct sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  return uv_ip4_addr(target.host.c_str(), target.port, reinterpret_cast<sockaddr_in*>(&out)) == 0 ||
         uv_ip6_addr(target.host.c_str(), target.port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

std::vector<struct sockaddr_storage> addressesOf(const struct addrinfo* answer, uint16_t port) {
  std::vector<struct sockaddr_storage> out;
  for (const struct addrinfo* entry = answer; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_family != AF_INET && entry->ai_family != AF_INET6) continue;
    struct sockaddr_storage address;
    std::memset(&address, 0, sizeof address);
    std::memcpy(&address, entry->ai_addr, entry->ai_addrlen);
    if (address.ss_family == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
    }
    out.push_back(address);
  }
  return out;
}

struct addrinfo resolverHints() {
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  return hints;
}

}  // namespace hoplite::proxy::upstream
