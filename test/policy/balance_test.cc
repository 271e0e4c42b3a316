// The balancer as tables: which server each algorithm picks, with weights, backups,
// max_connections, ejected and already tried servers; and how few keys consistent hashing moves
// when a server goes.
#include "policy/balance.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

namespace hoplite::policy {
namespace {

using conf::Balance;

// `prefix` then `n`, appended (GCC 12 reports false overflows on "..." + std::to_string()).
std::string numbered(std::string prefix, size_t n) {
  prefix.append(std::to_string(n));
  return prefix;
}

std::vector<std::string> names(size_t count) {
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) out.push_back(numbered("10.0.0.", i + 1).append(":8000"));
  return out;
}

std::vector<conf::ServerOptions> optionsOf(const std::vector<ServerLoad>& loads) {
  std::vector<conf::ServerOptions> out;
  for (const ServerLoad& load : loads)
    out.push_back({load.weight, load.backup, load.maxConnections});
  return out;
}

// The servers `count` picks choose in order (nothing tried, no key).
std::string sequence(Balance balance, const std::vector<ServerLoad>& loads, size_t count) {
  Balancer balancer(balance, names(loads.size()), optionsOf(loads));
  std::string out;
  const std::vector<bool> none(loads.size(), false);
  for (size_t i = 0; i < count; ++i) {
    const auto picked = balancer.pick(loads, none, std::nullopt, i * 7919);
    out += picked ? static_cast<char>('a' + *picked) : '-';
  }
  return out;
}

ServerLoad weight(uint32_t w) {
  return {w, false, 0, 0, true};
}

TEST_CASE("policy: smooth weighted round robin spreads by weight, smoothly", "[policy][balance]") {
  CHECK(sequence(Balance::RoundRobin, {weight(1), weight(1), weight(1)}, 6) == "abcabc");
  // nginx's example: 5, 1, 1 interleaves instead of sending five in a row to a.
  CHECK(sequence(Balance::RoundRobin, {weight(5), weight(1), weight(1)}, 7) == "aabacaa");
  CHECK(sequence(Balance::RoundRobin, {weight(2), weight(1)}, 6) == "abaaba");
}

TEST_CASE("policy: every algorithm skips what cannot take a request, backups last",
          "[policy][balance]") {
  ServerLoad ejected = weight(1);
  ejected.available = false;
  ServerLoad full = weight(1);
  full.maxConnections = 2;
  full.active = 2;
  ServerLoad backup = weight(1);
  backup.backup = true;
  struct Row {
    const char* what;
    std::vector<ServerLoad> loads;
    const char* expected;  // six picks
  };
  const Row rows[] = {
      {"an ejected server", {ejected, weight(1), weight(1)}, "bcbcbc"},
      {"a server at max_connections", {full, weight(1)}, "bbbbbb"},
      {"a backup while a primary can", {backup, weight(1)}, "bbbbbb"},
      {"the backup once no primary can", {backup, ejected, full}, "aaaaaa"},
      {"nothing at all", {ejected, full}, "------"},
  };
  for (const Balance balance :
       {Balance::RoundRobin, Balance::LeastConnections, Balance::RandomTwo, Balance::Hash}) {
    for (const Row& row : rows) {
      INFO(row.what << ", balance " << static_cast<int>(balance));
      CHECK(sequence(balance, row.loads, 6) == row.expected);
    }
  }
}

TEST_CASE("policy: a request never gets a server it already tried", "[policy][balance]") {
  const std::vector<ServerLoad> loads{weight(1), weight(1), weight(1)};
  for (const Balance balance : {Balance::RoundRobin, Balance::LeastConnections, Balance::Hash}) {
    Balancer balancer(balance, names(3), optionsOf(loads));
    std::vector<bool> tried(3, false);
    std::string order;
    for (int attempt = 0; attempt < 4; ++attempt) {
      const auto picked = balancer.pick(loads, tried, hashKey("user-7"), 0);
      if (!picked) break;
      tried[*picked] = true;
      order += static_cast<char>('a' + *picked);
    }
    INFO("balance " << static_cast<int>(balance));
    CHECK(order.size() == 3);  // each once, then none
  }
}

TEST_CASE("policy: least connections by load per weight, ties taking turns", "[policy][balance]") {
  struct Row {
    const char* what;
    std::vector<uint32_t> active;
    std::vector<uint32_t> weights;
    const char* expected;  // three picks, loads unchanged between them
  };
  const Row rows[] = {
      {"the idle one", {5, 0, 3}, {1, 1, 1}, "bbb"},
      {"equal loads take turns", {2, 2, 2}, {1, 1, 1}, "abc"},
      {"per weight: 4 of 4 beats 2 of 1", {4, 2}, {4, 1}, "aaa"},
      {"per weight: 6/3 against 2/1 is a tie", {6, 2}, {3, 1}, "aba"},
  };
  for (const Row& row : rows) {
    std::vector<ServerLoad> loads;
    for (size_t i = 0; i < row.active.size(); ++i) {
      loads.push_back({row.weights[i], false, 0, row.active[i], true});
    }
    INFO(row.what);
    CHECK(sequence(Balance::LeastConnections, loads, 3) == row.expected);
  }
}

TEST_CASE("policy: random_two prefers the lighter of its two draws", "[policy][balance]") {
  // b holds 100 requests: over many draws it is picked only when both draws are b.
  std::vector<ServerLoad> loads{weight(1), weight(1), weight(1)};
  loads[1].active = 100;
  Balancer balancer(Balance::RandomTwo, names(3), optionsOf(loads));
  const std::vector<bool> none(3, false);
  std::map<size_t, int> picks;
  for (uint64_t i = 0; i < 9000; ++i)
    ++picks[*balancer.pick(loads, none, std::nullopt, hashKey(numbered("", i)))];
  CHECK(picks[1] < 9000 / 9 * 3 / 2);  // about 1/9
  CHECK(picks[0] > 9000 / 3);
  CHECK(picks[2] > 9000 / 3);
}

TEST_CASE(
    "policy: hashing sends a key to one server, weighted, and a request without one round "
    "robin",
    "[policy][balance]") {
  const std::vector<ServerLoad> loads{weight(1), weight(3)};
  Balancer balancer(Balance::Hash, names(2), optionsOf(loads));
  const std::vector<bool> none(2, false);
  std::map<size_t, int> picks;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t key = hashKey(numbered("session-", static_cast<size_t>(i)));
    const auto first = balancer.pick(loads, none, key, 0);
    CHECK(balancer.pick(loads, none, key, 0) == first);  // the same key, the same server
    ++picks[*first];
  }
  // Weights 1:3 within a few percent of the keys.
  CHECK(picks[1] > 7000);
  CHECK(picks[1] < 8000);
  CHECK(sequence(Balance::Hash, {weight(1), weight(1)}, 4) == "abab");
}

TEST_CASE("policy: removing one of N servers moves only its own keys, about 1/N of them",
          "[policy][balance]") {
  constexpr size_t kServers = 5;
  constexpr size_t kKeys = 100000;
  const std::vector<ServerLoad> all(kServers, weight(1));
  Balancer before(Balance::Hash, names(kServers), optionsOf(all));
  // The same servers without the third one (as a reload that removed it builds them).
  std::vector<std::string> remaining = names(kServers);
  remaining.erase(remaining.begin() + 2);
  const std::vector<ServerLoad> four(kServers - 1, weight(1));
  Balancer after(Balance::Hash, remaining, optionsOf(four));
  const std::vector<bool> none5(kServers, false), none4(kServers - 1, false);
  size_t moved = 0;
  size_t movedFromElsewhere = 0;
  for (size_t i = 0; i < kKeys; ++i) {
    const uint64_t key = hashKey(numbered("k", i));
    const size_t was = *before.pick(all, none5, key, 0);
    size_t now = *after.pick(four, none4, key, 0);
    if (now >= 2) ++now;  // back to the five-server numbering
    if (was != now) {
      ++moved;
      if (was != 2) ++movedFromElsewhere;
    }
  }
  CHECK(movedFromElsewhere == 0);
  // The removed server held about 1/5 of the keys: 20,000 give or take the ring's spread.
  CHECK(moved > kKeys / kServers * 7 / 10);
  CHECK(moved < kKeys / kServers * 13 / 10);
}

TEST_CASE("policy: the request's hash key comes from its header, cookie or client address",
          "[policy][balance]") {
  parser::RequestHead request;
  request.headers.emplace_back("Host", "app.test");
  request.headers.emplace_back("X-User", "alice");
  request.headers.emplace_back("Cookie", "theme=dark; session=abc123");
  const auto key = [&](conf::HashKey::Kind kind, const char* name) {
    return requestKeyHash({kind, name}, request, "203.0.113.7");
  };
  using Kind = conf::HashKey::Kind;
  CHECK(key(Kind::Header, "x-user") == hashKey("alice"));
  CHECK(key(Kind::Cookie, "session") == hashKey("abc123"));
  CHECK(key(Kind::Cookie, "theme") == hashKey("dark"));
  CHECK(key(Kind::ClientIp, "") == hashKey("203.0.113.7"));
  CHECK_FALSE(key(Kind::Header, "x-missing").has_value());
  CHECK_FALSE(key(Kind::Cookie, "sess").has_value());
  CHECK_FALSE(key(Kind::None, "").has_value());
}

}  // namespace
}  // namespace hoplite::policy
