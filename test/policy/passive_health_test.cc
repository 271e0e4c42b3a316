// Passive health with a fake clock: max_fails within fail_window eject a server for eject_for,
// doubled at each consecutive ejection up to 10 times, and a success resets it all.
#include "policy/passive_health.h"

#include <catch2/catch.hpp>

namespace hoplite::policy {
namespace {

using namespace std::chrono_literals;

TEST_CASE("policy: failures within the window eject, and ejections grow until a success",
          "[policy][health]") {
  const conf::PassiveHealth settings{3, 10s, 30s};
  PassiveHealthState state;
  CHECK_FALSE(recordFailure(state, settings, 1000));
  CHECK_FALSE(recordFailure(state, settings, 2000));
  CHECK_FALSE(isEjected(state, 2000));
  CHECK(recordFailure(state, settings, 3000));  // the third within 10 s
  CHECK(isEjected(state, 3000));
  CHECK(isEjected(state, 32999));
  CHECK_FALSE(isEjected(state, 33000));               // 30 s later
  CHECK_FALSE(recordFailure(state, settings, 5000));  // while ejected: nothing more

  // Three more failures after it came back: ejected again, for twice as long.
  for (uint64_t t : {40000, 41000}) CHECK_FALSE(recordFailure(state, settings, t));
  CHECK(recordFailure(state, settings, 42000));
  CHECK(isEjected(state, 42000 + 59999));
  CHECK_FALSE(isEjected(state, 42000 + 60000));

  recordSuccess(state);
  for (uint64_t t : {200000, 201000}) CHECK_FALSE(recordFailure(state, settings, t));
  CHECK(recordFailure(state, settings, 202000));
  CHECK_FALSE(isEjected(state, 202000 + 30000));  // back to 30 s after the success
}

TEST_CASE("policy: failures spread wider than the window do not eject", "[policy][health]") {
  const conf::PassiveHealth settings{2, 10s, 10s};
  PassiveHealthState state;
  CHECK_FALSE(recordFailure(state, settings, 0));
  CHECK_FALSE(recordFailure(state, settings, 10000));  // a new window
  CHECK(recordFailure(state, settings, 19999));
}

TEST_CASE("policy: the default is one failure for 10 s, and ejections stop growing at 10x",
          "[policy][health]") {
  const conf::PassiveHealth defaults;
  PassiveHealthState state;
  CHECK(recordFailure(state, defaults, 0));
  CHECK(isEjected(state, 9999));
  CHECK_FALSE(isEjected(state, 10000));
  const uint64_t lengths[] = {10000, 20000, 40000, 80000, 100000, 100000};
  for (uint32_t n = 1; n <= 6; ++n) CHECK(ejectionMs(defaults, n) == lengths[n - 1]);
}

}  // namespace
}  // namespace hoplite::policy
