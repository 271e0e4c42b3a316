// Per-loop event counters, printed on exit as `hoplite: counters: key=value ...`.
//
// The end-to-end tests assert on these names, so each is spelled exactly as printed. Timeout
// counters are named after their config key under "timeouts".
#pragma once

#include <cstdint>
#include <string>

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

  // "accepted=1 requests=2 ..." in a fixed order.
  std::string toText() const {
    std::string out;
    auto add = [&out](const char* key, uint64_t value) {
      if (!out.empty()) out += ' ';
      out += key;
      out += '=';
      out += std::to_string(value);
    };
    add("accepted", accepted);
    add("requests", requests);
    add("upstream_connects", upstreamConnects);
    add("upstream_reused", upstreamReused);
    add("upstream_retries", upstreamRetries);
    add("tunnels_opened", tunnelsOpened);
    add("tunnels_closed", tunnelsClosed);
    add("rejected_4xx", rejected4xx);
    add("errors_5xx", errors5xx);
    add("timeout_client_header", timeoutClientHeader);
    add("timeout_client_idle", timeoutClientIdle);
    add("timeout_client_body", timeoutClientBody);
    add("timeout_upstream_connect", timeoutUpstreamConnect);
    add("timeout_upstream_response", timeoutUpstreamResponse);
    add("timeout_tunnel_idle", timeoutTunnelIdle);
    add("timeout_shutdown_drain", timeoutShutdownDrain);
    add("upstream_connect_failures", upstreamConnectFailures);
    return out;
  }
};

}  // namespace hoplite::proxy
