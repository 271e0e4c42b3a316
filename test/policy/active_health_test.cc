// Active health check rules: the probe's status line, which statuses pass, and the streaks that
// turn a server down and up.
#include "policy/active_health.h"

#include <catch2/catch.hpp>

namespace hoplite::policy {
namespace {

TEST_CASE("policy: a probe's status comes from a whole HTTP/1 status line", "[policy][health]") {
  CHECK(probeStatus("HTTP/1.1 200 OK\r\n") == std::optional<uint16_t>(200));
  CHECK(probeStatus("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n") ==
        std::optional<uint16_t>(503));
  CHECK(probeStatus("HTTP/1.1 204\r\n") == std::optional<uint16_t>(204));  // no reason phrase
  CHECK_FALSE(probeStatus("HTTP/1.1 200 O").has_value());                  // not whole yet
  CHECK(probeStatus("SSH-2.0-OpenSSH\r\n") == std::optional<uint16_t>(0));
  CHECK(probeStatus("HTTP/2 200\r\n") == std::optional<uint16_t>(0));
  CHECK(probeStatus("HTTP/1.1 2x0 OK\r\n") == std::optional<uint16_t>(0));
  CHECK(probeStatus("HTTP/1.1 2000 OK\r\n") == std::optional<uint16_t>(0));
}

TEST_CASE("policy: expect_status ranges decide what passes", "[policy][health]") {
  conf::HealthCheck check;  // "2xx"
  CHECK(statusPasses(200, check));
  CHECK(statusPasses(299, check));
  CHECK_FALSE(statusPasses(301, check));
  check.expectStatus = {{200, 399}, {418, 418}};
  CHECK(statusPasses(302, check));
  CHECK(statusPasses(418, check));
  CHECK_FALSE(statusPasses(404, check));
}

TEST_CASE("policy: unhealthy_after failures in a row turn a server down, healthy_after passes up",
          "[policy][health]") {
  conf::HealthCheck check;
  check.healthyAfter = 2;
  check.unhealthyAfter = 3;
  ActiveHealthState state;
  CHECK_FALSE(recordProbe(state, false, check));
  CHECK_FALSE(recordProbe(state, false, check));
  CHECK_FALSE(recordProbe(state, true, check));  // the streak is broken
  CHECK(state.verdict == HealthVerdict::Unknown);
  CHECK_FALSE(recordProbe(state, false, check));
  CHECK_FALSE(recordProbe(state, false, check));
  CHECK(recordProbe(state, false, check) == std::optional(HealthVerdict::Down));
  CHECK_FALSE(recordProbe(state, false, check));  // logged once, not on every probe
  CHECK_FALSE(recordProbe(state, true, check));
  CHECK(recordProbe(state, true, check) == std::optional(HealthVerdict::Up));
  CHECK_FALSE(recordProbe(state, true, check));
}

}  // namespace
}  // namespace hoplite::policy
