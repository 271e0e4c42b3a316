// Turning a server's "host:port" into socket addresses: at once for an IP literal, through the
// resolver's answer for a name. Shared by the connector and the health checker.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <vector>

#include "conf/config.h"

namespace hoplite::proxy::upstream {

// `target` as a socket address when its host is an IPv4 or IPv6 literal; false for a name.
bool literalAddress(const conf::HostPort& target, struct sockaddr_storage& out);

// Every IPv4 and IPv6 address of a getaddrinfo answer, in its order, with `port` set.
std::vector<struct sockaddr_storage> addressesOf(const struct addrinfo* answer, uint16_t port);

// The hints for resolving a server name: any family, stream sockets.
struct addrinfo resolverHints();

}  // namespace hoplite::proxy::upstream
