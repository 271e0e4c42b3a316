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
  // sockets[worker][address]: listening socket descriptors, in `listen` order.
  std::vector<std::vector<int>> sockets;
  // Closes every socket not in sockets[keep] (all of them for keep == -1).
  void closeAllBut(int keep);
};

// Binds and listens (with `backlog`) on every address once per worker. Before binding, each address
// is first bound once without SO_REUSEPORT: that fails with "address already in use" when any other
// socket listens there, so a second hoplite cannot silently join the first one's port group.
// nullopt, after printing why to stderr and closing what was opened, on any failure.
std::optional<WorkerListeners> bindWorkerListeners(const std::vector<conf::HostPort>& addresses,
                                                   uint32_t workers, int backlog);

}  // namespace hoplite::proxy
