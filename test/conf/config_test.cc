// TimeoutOverrides::applyTo: a route's timeouts over the global ones.
#include "conf/config.h"

#include <catch2/catch.hpp>

using hoplite::conf::Duration;
using hoplite::conf::TimeoutOverrides;
using hoplite::conf::Timeouts;
using namespace std::chrono_literals;

TEST_CASE("conf: route timeout overrides replace only the keys they name", "[conf][timeouts]") {
  const Timeouts base;
  SECTION("no overrides keep every global value") {
    CHECK(TimeoutOverrides{}.applyTo(base) == base);
  }
  SECTION("a set value replaces, others stay") {
    TimeoutOverrides overrides;
    overrides.tunnelIdle = Duration{24h};
    const Timeouts applied = overrides.applyTo(base);
    CHECK(applied.tunnelIdle == Duration{24h});
    CHECK(applied.clientHeader == base.clientHeader);
    CHECK(applied.upstreamResponse == base.upstreamResponse);
  }
  SECTION("\"off\" (a set, empty Duration) turns a timer off") {
    TimeoutOverrides overrides;
    overrides.upstreamResponse = Duration{};
    overrides.clientIdle = Duration{5s};
    const Timeouts applied = overrides.applyTo(base);
    CHECK_FALSE(applied.upstreamResponse.has_value());
    CHECK(applied.clientIdle == Duration{5s});
    CHECK(applied.tunnelIdle == base.tunnelIdle);
  }
  SECTION("every key can be overridden") {
    TimeoutOverrides overrides;
    overrides.clientHeader = overrides.clientIdle = overrides.clientBody =
        overrides.upstreamConnect = overrides.upstreamResponse = overrides.tunnelIdle =
            overrides.shutdownDrain = Duration{1ms};
    const Timeouts applied = overrides.applyTo(base);
    for (const Duration& d :
         {applied.clientHeader, applied.clientIdle, applied.clientBody, applied.upstreamConnect,
          applied.upstreamResponse, applied.tunnelIdle, applied.shutdownDrain}) {
      CHECK(d == Duration{1ms});
    }
  }
  SECTION("shutdown_delay, global only, always keeps the global value") {
    Timeouts delayed;
    delayed.shutdownDelay = Duration{10s};
    TimeoutOverrides overrides;
    overrides.shutdownDrain = Duration{1s};
    CHECK(overrides.applyTo(delayed).shutdownDelay == Duration{10s});
    CHECK_FALSE(TimeoutOverrides{}.applyTo(base).shutdownDelay.has_value());
  }
}
