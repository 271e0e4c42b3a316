#include "policy/active_health.h"

namespace hoplite::policy {

std::optional<uint16_t> probeStatus(std::string_view bytes) {
  const size_t end = bytes.find("\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  const std::string_view line = bytes.substr(0, end);
  // "HTTP/1.1 200" at least; the reason phrase may be empty.
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ') return 0;
  uint16_t status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return 0;
    status = static_cast<uint16_t>(status * 10 + (line[i] - '0'));
  }
  if (line.size() > 12 && line[12] != ' ') return 0;
  return status;
}

bool statusPasses(uint16_t status, const conf::HealthCheck& check) {
  for (const auto& [low, high] : check.expectStatus) {
    if (status >= low && status <= high) return true;
  }
  return false;
}

std::optional<HealthVerdict> recordProbe(ActiveHealthState& state, bool passed,
                                         const conf::HealthCheck& check) {
  if (passed) {
    state.fails = 0;
    ++state.passes;
    if (state.verdict != HealthVerdict::Up && state.passes >= check.healthyAfter) {
      state.verdict = HealthVerdict::Up;
      return state.verdict;
    }
    return std::nullopt;
  }
  state.passes = 0;
  ++state.fails;
  if (state.verdict != HealthVerdict::Down && state.fails >= check.unhealthyAfter) {
    state.verdict = HealthVerdict::Down;
    return state.verdict;
  }
  return std::nullopt;
}

}  // namespace hoplite::policy
