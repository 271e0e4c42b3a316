// The listening sockets of a multi-worker hoplite, bound by the supervisor before it starts the
// workers: one SO_REUSEPORT socket per worker for each `listen` address, all on the same port.
// Each worker serves on its own sockets, so the kernel spreads new connections over the workers
// (by a hash of their addresses and ports) instead of waking every worker for each one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"

namespace hoplite::proxy {

struct WorkerListeners {
  // What each address is bound to, for the "listening on" lines (the kernel's port for port 0).
  std::vector<std::string> shown;
  // The same, as addresses to bind more sockets to (bindWorkerListeners with joinExisting).
  std::vector<conf::HostPort> bound;
  // sockets[worker][address]: listening socket descriptors, in `listen` order.
  std::vector<std::vector<int>> sockets;
  // Closes every socket not in sockets[keep] (all of them for keep == -1).
  void closeAllBut(int keep);
};

// Binds and listens (with `backlog`) on every address once per worker. Before binding, each address
// is first bound once without SO_REUSEPORT: that fails with "address already in use" when any other
// socket listens there, so a second hoplite cannot silently join the first one's port group.
// nullopt, after printing why to stderr and closing what was opened, on any failure.
// `joinExisting`: the addresses are already served by this hoplite's other workers (a worker a
// reload adds), so the first bind is skipped; each has its real port.
std::optional<WorkerListeners> bindWorkerListeners(const std::vector<conf::HostPort>& addresses,
                                                   uint32_t workers, int backlog,
                                                   bool joinExisting = false);

// "127.0.0.1:8080" or "[::1]:8080", as the config writes the address (port 0 included).
std::string addressAsWritten(const conf::HostPort& address);

// For a listener a reload adds while workers run: whether `address` can be bound, tried by the
// supervisor (without SO_REUSEPORT, so that a socket anyone else listens on there fails it)
// before any worker changes anything. Empty when it can, else why not.
std::string probeListenAddress(const conf::HostPort& address, bool ipv6Only);

// A worker's own socket for a listener a reload added: bound with SO_REUSEPORT on `address`,
// which the other workers bind too. The descriptor, or -errno.
int bindReusePortSocket(const conf::HostPort& address, bool ipv6Only);

}  // namespace hoplite::proxy
