// Choosing an upstream's server for a new connection: smooth weighted round robin, least
// connections, the better of two random choices, and consistent hashing, each over the servers
// that can take one more request (available, below max_connections, not yet tried for this
// request), the backups only when no other server can. Pure: the pool keeps the loads and the
// health, the balancer only chooses (docs: conf/README.md, "upstreams").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "parser/http_message.h"

namespace hoplite::policy {

// What the balancer reads of one server, kept by its pool.
struct ServerLoad {
  uint32_t weight = 1;
  bool backup = false;
  uint32_t maxConnections = 0;  // 0: no limit
  uint32_t active = 0;          // requests in flight plus open tunnels on it
  bool available = true;        // false while ejected (passive health)
};

// A 64-bit hash of a request's key (a cookie, a header, a client address), for "hash".
uint64_t hashKey(std::string_view key);

// The hash of `request`'s key by `key` ("hash_key"), or nullopt when it has none: no such
// header (the first one counts), no such cookie (in any Cookie field), or no key configured.
// `clientAddress`: the connection's source address as text, for "client_ip".
std::optional<uint64_t> requestKeyHash(const conf::HashKey& key, const parser::RequestHead& request,
                                       std::string_view clientAddress);

class Balancer {
 public:
  // `servers`: each server's address as the config names it (the ring's points hang on them, so
  // a server keeps its keys whatever happens to the others), with its options.
  Balancer(conf::Balance balance, std::span<const std::string> servers,
           std::span<const conf::ServerOptions> options);

  // The server for a new connection, or nullopt when none can take one. `tried[i]`: server i
  // was tried for this request already. `keyHash`: the request's hash key (hashKey), nullopt
  // when it has none (then round robin). `random`: 64 random bits (random_two).
  std::optional<size_t> pick(std::span<const ServerLoad> servers, const std::vector<bool>& tried,
                             std::optional<uint64_t> keyHash, uint64_t random);

  // Points on the ring (hash only), for tests.
  size_t ringSize() const { return ring_.size(); }

 private:
  std::optional<size_t> pickInTier(std::span<const ServerLoad> servers,
                                   const std::vector<bool>& tried, bool backups,
                                   std::optional<uint64_t> keyHash, uint64_t random);
  std::optional<size_t> roundRobin(std::span<const ServerLoad> servers,
                                   std::span<const size_t> candidates);
  std::optional<size_t> leastConnections(std::span<const ServerLoad> servers,
                                         std::span<const size_t> candidates);
  static size_t randomTwo(std::span<const ServerLoad> servers, std::span<const size_t> candidates,
                          uint64_t random);
  std::optional<size_t> onRing(std::span<const ServerLoad> servers, const std::vector<bool>& tried,
                               bool backups, uint64_t keyHash) const;

  conf::Balance balance_;
  std::vector<int64_t> currentWeight_;               // smooth weighted round robin (nginx's)
  size_t cursor_ = 0;                                // least_connections: where ties start
  std::vector<std::pair<uint64_t, uint32_t>> ring_;  // (point, server), sorted by point
  std::vector<size_t> candidates_;                   // scratch, kept to avoid an allocation
};

// Whether server `load` may take one more connection now.
bool canTake(const ServerLoad& load);

}  // namespace hoplite::policy
