#include "conf/config.h"

namespace hoplite::conf {

// Contract: every timeout the route names replaces the global one; the others stay as in `base`.
// An override of "off" is a set optional holding an empty Duration, so it turns the timer off.
Timeouts TimeoutOverrides::applyTo(const Timeouts& base) const {
  Timeouts result = base;
  const auto apply = [](Duration& target, const std::optional<Duration>& override) {
    if (override) target = *override;
  };
  apply(result.clientHeader, clientHeader);
  apply(result.clientIdle, clientIdle);
  apply(result.clientBody, clientBody);
  apply(result.upstreamConnect, upstreamConnect);
  apply(result.upstreamResponse, upstreamResponse);
  apply(result.tunnelIdle, tunnelIdle);
  apply(result.shutdownDrain, shutdownDrain);
  return result;
}

}  // namespace hoplite::conf
