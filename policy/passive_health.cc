#include "policy/passive_health.h"

#include <algorithm>

namespace hoplite::policy {

uint64_t ejectionMs(const conf::PassiveHealth& settings, uint32_t ejections) {
  const uint64_t base = static_cast<uint64_t>(settings.ejectFor.count());
  const uint64_t cap = base * 10;
  uint64_t length = base;
  for (uint32_t n = 1; n < ejections && length < cap; ++n) length *= 2;
  return std::min(length, cap);
}

bool recordFailure(PassiveHealthState& state, const conf::PassiveHealth& settings, uint64_t nowMs) {
  if (isEjected(state, nowMs)) return false;  // already out: a late failure adds nothing
  const uint64_t window = static_cast<uint64_t>(settings.failWindow.count());
  if (state.fails == 0 || nowMs - state.windowStartMs >= window) {
    state.fails = 0;
    state.windowStartMs = nowMs;
  }
  if (++state.fails < settings.maxFails) return false;
  ++state.ejections;
  state.ejectedUntilMs = nowMs + ejectionMs(settings, state.ejections);
  state.fails = 0;
  return true;
}

void recordSuccess(PassiveHealthState& state) {
  state.fails = 0;
  state.ejections = 0;
  state.ejectedUntilMs = 0;
}

bool isEjected(const PassiveHealthState& state, uint64_t nowMs) {
  return state.ejectedUntilMs != 0 && nowMs < state.ejectedUntilMs;
}

}  // namespace hoplite::policy
