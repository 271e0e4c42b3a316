// What a reload (SIGHUP) may change, and how a supervisor hands a validated config to its
// workers: a snapshot in a memory file (memfd) opened before the fork, so that every worker
// applies exactly the bytes the supervisor validated, whatever happens to the file meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "conf/config.h"

namespace hoplite::proxy {

// Why `next` cannot be applied to a process running `running` without a restart, naming the
// key ("/admin/listen: changing it needs a restart"); empty when it can. `withWorkers`: under a
// supervisor, which can start and stop workers (a single process cannot), and where every
// worker binds an added listener itself (so its port cannot be 0).
std::string reloadNeedsRestart(const conf::Config& running, const conf::Config& next,
                               bool withWorkers);

// A validated config as the supervisor sends it to its workers: its generation number, the first
// metric cell of its layout (observe::Generations::layoutFor), and the file's bytes.
struct ConfigSnapshot {
  uint64_t generation = 0;
  size_t firstCell = 0;
  std::string text;
};

// A memory file for snapshots; -1 after printing why.
int createSnapshotFile();
// Replaces the snapshot in `fd`; false with `error`.
bool writeSnapshot(int fd, const ConfigSnapshot& snapshot, std::string& error);
// The snapshot in `fd`; nothing, with `error`, when it cannot be read or is malformed.
std::optional<ConfigSnapshot> readSnapshot(int fd, std::string& error);

}  // namespace hoplite::proxy
