#include "policy/balance.h"

#include <algorithm>

#include "policy/text.h"

namespace hoplite::policy {

namespace {

// Points per server on the ring on average, shared out by weight: enough for the keys to spread
// within a few percent of the weights, few enough to build at every reload in microseconds.
constexpr size_t kRingPointsPerServer = 160;

// splitmix64's finaliser: every input bit reaches every output bit, so FNV-1a's weak low bits
// (and similar keys, such as session IDs that differ in one character) still spread evenly.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// a < b in load per weight (active / weight), without division.
bool lighter(const ServerLoad& a, const ServerLoad& b) {
  return uint64_t{a.active} * b.weight < uint64_t{b.active} * a.weight;
}

}  // namespace

uint64_t hashKey(std::string_view key) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return mix(hash);
}

namespace {

bool sameNameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return toLowerAscii(x) == toLowerAscii(y);
         });
}

// The value of cookie `name` in one Cookie field ("a=1; session=xyz"), RFC 6265 §4.2.1.
std::optional<std::string_view> cookieValue(std::string_view field, std::string_view name) {
  while (!field.empty()) {
    const size_t end = field.find(';');
    std::string_view pair = trimOws(field.substr(0, end));
    field = end == std::string_view::npos ? std::string_view() : field.substr(end + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (trimOws(pair.substr(0, equals)) == name) return trimOws(pair.substr(equals + 1));
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> requestKeyHash(const conf::HashKey& key, const parser::RequestHead& request,
                                       std::string_view clientAddress) {
  switch (key.kind) {
    case conf::HashKey::Kind::None:
      return std::nullopt;
    case conf::HashKey::Kind::ClientIp:
      return hashKey(clientAddress);
    case conf::HashKey::Kind::Header:
      for (const parser::HeaderField& field : request.headers) {
        if (sameNameIgnoringCase(field.name, key.name)) return hashKey(field.value);
      }
      return std::nullopt;
    case conf::HashKey::Kind::Cookie:
      for (const parser::HeaderField& field : request.headers) {
        if (!sameNameIgnoringCase(field.name, "cookie")) continue;
        if (auto value = cookieValue(field.value, key.name)) return hashKey(*value);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

bool canTake(const ServerLoad& load) {
  return load.available && (load.maxConnections == 0 || load.active < load.maxConnections);
}

Balancer::Balancer(conf::Balance balance, std::span<const std::string> servers,
                   std::span<const conf::ServerOptions> options)
    : balance_(balance), currentWeight_(servers.size(), 0) {
  if (balance != conf::Balance::Hash || servers.empty()) return;
  uint64_t totalWeight = 0;
  for (size_t i = 0; i < servers.size(); ++i) {
    totalWeight += i < options.size() ? options[i].weight : 1;
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    const uint64_t weight = i < options.size() ? options[i].weight : 1;
    const size_t points = std::max<size_t>(
        1, static_cast<size_t>(kRingPointsPerServer * servers.size() * weight / totalWeight));
    for (size_t point = 0; point < points; ++point) {
      ring_.emplace_back(hashKey(servers[i] + "#" + std::to_string(point)),
                         static_cast<uint32_t>(i));
    }
  }
  std::sort(ring_.begin(), ring_.end());
}

std::optional<size_t> Balancer::pick(std::span<const ServerLoad> servers,
                                     const std::vector<bool>& tried,
                                     std::optional<uint64_t> keyHash, uint64_t random) {
  if (auto primary = pickInTier(servers, tried, /*backups=*/false, keyHash, random)) {
    return primary;
  }
  return pickInTier(servers, tried, /*backups=*/true, keyHash, random);
}

std::optional<size_t> Balancer::pickInTier(std::span<const ServerLoad> servers,
                                           const std::vector<bool>& tried, bool backups,
                                           std::optional<uint64_t> keyHash, uint64_t random) {
  if (balance_ == conf::Balance::Hash && keyHash) {
    return onRing(servers, tried, backups, *keyHash);
  }
  candidates_.clear();
  for (size_t i = 0; i < servers.size(); ++i) {
    if (servers[i].backup == backups && !(i < tried.size() && tried[i]) && canTake(servers[i])) {
      candidates_.push_back(i);
    }
  }
  if (candidates_.empty()) return std::nullopt;
  switch (balance_) {
    case conf::Balance::LeastConnections:
      return leastConnections(servers, candidates_);
    case conf::Balance::RandomTwo:
      return randomTwo(servers, candidates_, random);
    case conf::Balance::RoundRobin:
    case conf::Balance::Hash:  // a request without the key
      break;
  }
  return roundRobin(servers, candidates_);
}

// nginx's smooth weighted round robin: each candidate gains its weight, the one with the most
// is chosen and pays back the total. Weights 5, 1, 1 give a a b a c a a, not a a a a a b c.
std::optional<size_t> Balancer::roundRobin(std::span<const ServerLoad> servers,
                                           std::span<const size_t> candidates) {
  int64_t total = 0;
  size_t best = candidates.front();
  for (const size_t i : candidates) {
    currentWeight_[i] += servers[i].weight;
    total += servers[i].weight;
    if (currentWeight_[i] > currentWeight_[best]) best = i;
  }
  currentWeight_[best] -= total;
  return best;
}

// The fewest requests and tunnels per weight; among equals, the first from where the last pick
// left off, so that equal servers take turns instead of the first one taking every tie.
std::optional<size_t> Balancer::leastConnections(std::span<const ServerLoad> servers,
                                                 std::span<const size_t> candidates) {
  const size_t count = candidates.size();
  size_t start = 0;
  while (start < count && candidates[start] < cursor_) ++start;
  size_t best = candidates[start % count];
  for (size_t step = 1; step < count; ++step) {
    const size_t i = candidates[(start + step) % count];
    if (lighter(servers[i], servers[best])) best = i;
  }
  cursor_ = best + 1;
  return best;
}

// Two candidates drawn by weight; the lighter one wins (the power of two choices).
size_t Balancer::randomTwo(std::span<const ServerLoad> servers, std::span<const size_t> candidates,
                           uint64_t random) {
  uint64_t total = 0;
  for (const size_t i : candidates) total += servers[i].weight;
  const auto draw = [&](uint64_t bits) {
    uint64_t at = bits % total;
    for (const size_t i : candidates) {
      if (at < servers[i].weight) return i;
      at -= servers[i].weight;
    }
    return candidates.back();
  };
  const size_t first = draw(random & 0xffffffffu);
  const size_t second = draw(random >> 32);
  return lighter(servers[second], servers[first]) ? second : first;
}

// The first point at or after the key's that belongs to a server of the tier that can take
// it: a server that cannot gives its keys to the next ones on the ring, and gets them back
// when it can again.
std::optional<size_t> Balancer::onRing(std::span<const ServerLoad> servers,
                                       const std::vector<bool>& tried, bool backups,
                                       uint64_t keyHash) const {
  if (ring_.empty()) return std::nullopt;
  const auto start =
      std::lower_bound(ring_.begin(), ring_.end(), std::pair<uint64_t, uint32_t>{keyHash, 0});
  const size_t first = static_cast<size_t>(start - ring_.begin());
  for (size_t step = 0; step < ring_.size(); ++step) {
    const size_t i = ring_[(first + step) % ring_.size()].second;
    if (i < servers.size() && servers[i].backup == backups && !(i < tried.size() && tried[i]) &&
        canTake(servers[i])) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace hoplite::policy
