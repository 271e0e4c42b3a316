// Per-loop event counters, printed on exit as `hoplite: counters: key=value ...`.
//
// The end-to-end tests assert on these names, so each is spelled exactly as printed. Timeout
// counters are named after their config key under "timeouts". With workers, each worker sends
// its line to the supervisor, which prints their sum in the same form (fromText, +=).
//
// A worker's Counters live in memory shared with its supervisor (proxy/observe/metrics_table.h),
// where the admin listener reads them while the worker writes: each is a CounterCell.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplite::proxy {

// One 64-bit count that a single thread writes (its loop) and any process mapping it may read.
// A relaxed load and store, not a locked add: there is no second writer to race with, and a
// reader only needs to see whole values (an aligned 64-bit atomic is lock-free and
// address-free, so it works across processes; C++20 [atomics.lockfree]).
class CounterCell {
 public:
  CounterCell() = default;
  CounterCell(uint64_t value) : value_(value) {}  // NOLINT: a count is a number
  CounterCell(const CounterCell& other) : value_(other.load()) {}
  CounterCell& operator=(const CounterCell& other) {
    store(other.load());
    return *this;
  }
  CounterCell& operator=(uint64_t value) {
    store(value);
    return *this;
  }
  void add(uint64_t amount) { store(load() + amount); }
  CounterCell& operator++() {
    add(1);
    return *this;
  }
  uint64_t load() const { return value_.load(std::memory_order_relaxed); }
  void store(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  operator uint64_t() const { return load(); }  // NOLINT: reads as the number it holds
  bool operator==(const CounterCell& other) const { return load() == other.load(); }
  bool operator==(uint64_t value) const { return load() == value; }

 private:
  std::atomic<uint64_t> value_{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters need lock-free 64 bit");

struct Counters {
  CounterCell accepted = 0;          // client connections accepted
  CounterCell requests = 0;          // request heads parsed completely
  CounterCell upstreamConnects = 0;  // new upstream connections established
  CounterCell upstreamReused = 0;    // requests sent on an idle pooled connection
  // Servers that could not be connected to (refused, unreachable, unresolvable, upstream_connect
  // expired); the request then went on to the next server, if any was left.
  CounterCell upstreamConnectFailures = 0;
  CounterCell upstreamRetries =
      0;  // requests retried on a fresh connection after a reused one failed
  CounterCell tunnelsOpened = 0;
  CounterCell tunnelsClosed = 0;
  CounterCell rejected4xx = 0;  // 4xx responses hoplite generated itself
  CounterCell errors5xx = 0;    // 5xx responses hoplite generated itself
  CounterCell timeoutClientHeader = 0;
  CounterCell timeoutClientIdle = 0;
  CounterCell timeoutClientBody = 0;
  CounterCell timeoutUpstreamConnect = 0;
  CounterCell timeoutUpstreamResponse = 0;
  CounterCell timeoutTunnelIdle = 0;
  CounterCell timeoutShutdownDrain = 0;
  CounterCell logLinesDropped = 0;  // access log lines lost to a failing or blocked write

  // A counter's printed name and its member.
  struct Field {
    std::string_view name;
    CounterCell Counters::*member;
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
  // What was counted since `earlier`, a copy taken from the same counters.
  Counters since(const Counters& earlier) const;
  bool operator==(const Counters& other) const = default;
};

}  // namespace hoplite::proxy
