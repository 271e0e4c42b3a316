// What a request gets when no upstream connection could be had, decided in one place: the
// status the client is sent and the access log's error. Pure: no sockets.
#pragma once

#include <cstdint>
#include <string_view>

namespace hoplite::proxy::upstream {

// Why the last server tried could not be connected to.
enum class ConnectOutcome : uint8_t {
  TimedOut,  // upstream_connect expired
  Failed,    // refused, unreachable, reset, or its name did not resolve
  NoServer,  // no server could take it: all ejected or at max_connections, backups included
};

struct ConnectAnswer {
  uint16_t status;
  std::string_view error;   // the access log's stable reason
  std::string_view detail;  // the generated response's text
};

// nginx's mapping: a connect timeout is a gateway timeout, any other failure a bad gateway.
// With no server to try, the answer is at once a 503, never a wait for a connect timeout.
constexpr ConnectAnswer answerFor(ConnectOutcome outcome) {
  switch (outcome) {
    case ConnectOutcome::TimedOut:
      return {504, "upstream_connect_timeout", "upstream connect timeout"};
    case ConnectOutcome::NoServer:
      return {503, "no_healthy_upstream", "no upstream server is available"};
    case ConnectOutcome::Failed:
      break;
  }
  return {502, "upstream_connect_failed", "upstream unreachable or failed"};
}

}  // namespace hoplite::proxy::upstream
