// Passive health: connect failures of a server, counted within a window, eject it for a while,
// longer at each consecutive ejection (Envoy's outlier detection); a success resets it. Pure:
// the pool calls it with uv_now() milliseconds.
#pragma once

#include <cstdint>

#include "conf/config.h"

namespace hoplite::policy {

struct PassiveHealthState {
  uint32_t fails = 0;           // failures since windowStartMs
  uint64_t windowStartMs = 0;   // when the first of them came
  uint64_t ejectedUntilMs = 0;  // 0: not ejected
  uint32_t ejections = 0;       // consecutive ejections, without a success between them
};

// How long ejection number `ejections` (1 for the first) lasts: eject_for, doubled at each
// consecutive one, at most ten times eject_for.
uint64_t ejectionMs(const conf::PassiveHealth& settings, uint32_t ejections);

// Counts a failure at `nowMs`; true when it ejects the server.
bool recordFailure(PassiveHealthState& state, const conf::PassiveHealth& settings, uint64_t nowMs);
void recordSuccess(PassiveHealthState& state);
bool isEjected(const PassiveHealthState& state, uint64_t nowMs);

}  // namespace hoplite::policy
