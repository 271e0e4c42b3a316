// Active health checks, the rules without the sockets: reading a probe's status line, whether a
// status passes, and when consecutive results turn a server down or up (healthy_after,
// unhealthy_after). Before its first verdict a server is used: nothing waits for a probe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "conf/config.h"

namespace hoplite::policy {

enum class HealthVerdict : uint8_t { Unknown, Up, Down };

struct ActiveHealthState {
  HealthVerdict verdict = HealthVerdict::Unknown;
  uint32_t passes = 0;  // in a row
  uint32_t fails = 0;   // in a row
};

// The status of "HTTP/1.x NNN ..." once `bytes` hold the whole status line; nullopt while they
// do not yet; 0 when the line is not an HTTP/1 status line.
std::optional<uint16_t> probeStatus(std::string_view bytes);

bool statusPasses(uint16_t status, const conf::HealthCheck& check);

// Counts one probe; returns the verdict when it changed (Down after unhealthy_after failures in a
// row, Up after healthy_after passes in a row, a first failure streak included).
std::optional<HealthVerdict> recordProbe(ActiveHealthState& state, bool passed,
                                         const conf::HealthCheck& check);

}  // namespace hoplite::policy
