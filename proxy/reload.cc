#include "proxy/reload.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hoplite::proxy {

std::string reloadNeedsRestart(const conf::Config& running, const conf::Config& next,
                               bool withWorkers) {
  // One process has no supervisor to start workers. A supervisor goes on supervising when a
  // reload asks for one worker.
  if (!withWorkers && next.workers != running.workers) {
    return "/workers: hoplite runs as one process; starting workers needs a restart";
  }
  if (withWorkers) {
    // Every worker binds an added listener itself: they must agree on its port.
    for (size_t i = 0; i < next.listen.size(); ++i) {
      const conf::HostPort& address = next.listen[i];
      const bool added =
          std::find(running.listen.begin(), running.listen.end(), address) == running.listen.end();
      if (added && address.port == 0) {
        return "/listen/" + std::to_string(i) +
               ": with workers, a listener added by a reload needs a fixed port, not 0";
      }
    }
  }
  if (next.admin != running.admin) return "/admin/listen: changing it needs a restart";
  if (next.log.access != running.log.access) return "/log/access: changing it needs a restart";
  if (next.log.errors != running.log.errors) return "/log/errors: changing it needs a restart";
  return {};
}

int createSnapshotFile() {
  const int fd = ::memfd_create("hoplite-config", MFD_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "hoplite: cannot create the config snapshot file: %s\n",
                 std::strerror(errno));
  }
  return fd;
}

namespace {

// "<generation> <first cell>\n" before the config's bytes.
std::string headerOf(const ConfigSnapshot& snapshot) {
  return std::to_string(snapshot.generation) + " " + std::to_string(snapshot.firstCell) + "\n";
}

}  // namespace

bool writeSnapshot(int fd, const ConfigSnapshot& snapshot, std::string& error) {
  const std::string bytes = headerOf(snapshot) + snapshot.text;
  if (::ftruncate(fd, 0) != 0) {
    error = std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? std::strerror(errno) : "short write";
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

std::optional<ConfigSnapshot> readSnapshot(int fd, std::string& error) {
  std::string bytes;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::pread(fd, chunk, sizeof chunk, static_cast<off_t>(bytes.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    bytes.append(chunk, static_cast<size_t>(n));
  }
  ConfigSnapshot snapshot;
  const size_t end = bytes.find('\n');
  unsigned long long generation = 0;
  unsigned long long firstCell = 0;
  if (end == std::string::npos ||
      std::sscanf(bytes.substr(0, end).c_str(), "%llu %llu", &generation, &firstCell) != 2) {
    error = "a malformed config snapshot";
    return std::nullopt;
  }
  snapshot.generation = generation;
  snapshot.firstCell = static_cast<size_t>(firstCell);
  snapshot.text = bytes.substr(end + 1);
  return snapshot;
}

}  // namespace hoplite::proxy
