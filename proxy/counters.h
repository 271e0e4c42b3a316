// Per-loop event counters, printed on exit as `hoplite: counters: key=value ...`.
//
// The end-to-end tests assert on these names, so each is spelled exactly as printed. Timeout
// counters are named after their config key under "timeouts". With workers, each worker sends
// its line to the supervisor, which prints their sum in the same form (fromText, +=).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplite::proxy {

struct Counters {
  uint64_t accepted = 0;          // client connections accepted
  uint64_t requests = 0;          // request heads parsed completely
  uint64_t upstreamConnects = 0;  // new upstream connections established
  uint64_t upstreamReused = 0;    // requests sent on an idle pooled connection
  // Servers that could not be connected to (refused, unreachable, unresolvable, upstream_connect
  // expired); the request then went on to the next server, if any was left.
  uint64_t upstreamConnectFailures = 0;
  uint64_t upstreamRetries = 0;  // requests retried on a fresh connection after a reused one failed
  uint64_t tunnelsOpened = 0;
  uint64_t tunnelsClosed = 0;
  uint64_t rejected4xx = 0;  // 4xx responses hoplite generated itself
  uint64_t errors5xx = 0;    // 5xx responses hoplite generated itself
  uint64_t timeoutClientHeader = 0;
  uint64_t timeoutClientIdle = 0;
  uint64_t timeoutClientBody = 0;
  uint64_t timeoutUpstreamConnect = 0;
  uint64_t timeoutUpstreamResponse = 0;
  uint64_t timeoutTunnelIdle = 0;
  uint64_t timeoutShutdownDrain = 0;
  uint64_t logLinesDropped = 0;  // access log lines lost to a failing or blocked write

  // A counter's printed name and its member.
  struct Field {
    std::string_view name;
    uint64_t Counters::*member;
  };
  static constexpr size_t kFieldCount = 18;
  // Every counter, in the order toText prints them.
  static const std::array<Field, kFieldCount>& fields();

  // "accepted=1 requests=2 ..." in a fixed order.
  std::string toText() const;

  // The counters of a toText line; nothing when a key is unknown, repeated or missing, or a
  // value is not a decimal count (the line came from another version, or was cut short).
  static std::optional<Counters> fromText(std::string_view text);

  Counters& operator+=(const Counters& other);
  bool operator==(const Counters& other) const = default;
};

}  // namespace hoplite::proxy
