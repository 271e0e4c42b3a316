// What one HTTP exchange did, gathered where the facts are known and written once at its end
// (Envoy's StreamInfo; HAProxy's log format over its stream).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hoplite::proxy::observe {

// Filled by the Session as the exchange goes: views point into memory that outlives the write
// of the record (the request head, the config, the peer). A field left unset is logged as null.
struct ExchangeRecord {
  int64_t startUnixMs = 0;  // wall clock when the request head was complete (or refused)
  std::string_view requestId;
  std::string_view clientAddress;  // "203.0.113.7" or "2001:db8::1" (no brackets)
  uint16_t clientPort = 0;
  std::string_view listener;  // "0.0.0.0:80", as the config wrote it
  std::string_view method;    // empty: no request head was parsed
  std::string_view host;
  std::string_view target;  // origin-form, as forwarded
  uint8_t versionMajor = 1;
  uint8_t versionMinor = 1;
  uint16_t status = 0;          // what the client got; 0: no response
  uint64_t bytesIn = 0;         // request bytes read from the client, head and body
  uint64_t bytesOut = 0;        // response bytes written to the client, head and body
  double durationMs = 0;        // head complete to the last response byte handed to the kernel
  std::optional<size_t> route;  // index in "routes"
  std::string_view routeName;   // its "name", logged instead of the index when set
  std::string_view upstream;    // the route's upstream name
  std::string_view upstreamAddress;
  uint16_t upstreamStatus = 0;              // the upstream's final status; 0: none
  std::optional<double> requestSentMs;      // head complete to the request sent upstream
  std::optional<double> upstreamConnectMs;  // a new connection's connect time
  std::optional<double> upstreamHeaderMs;   // request sent to response head
  bool reused = false;                      // an idle pooled connection carried the request
  std::optional<std::string_view> userAgent;
  std::string_view error;  // a stable snake_case reason when hoplite made or cut the answer
};

// What one tunnel did, written when it closes. Its strings are copies: the handshake's request
// head is gone by then. Allocated only while the access log is on.
struct TunnelRecord {
  std::string requestId;
  std::string clientAddress;  // no brackets, as in ExchangeRecord
  uint16_t clientPort = 0;
  std::string host;
  std::string target;
  std::optional<size_t> route;
  std::string routeName;
  std::string upstreamAddress;
  std::string protocol;  // the granted Upgrade protocol, lower-case ("websocket")
  int64_t openedUnixMs = 0;
  uint64_t openedNs = 0;         // uv_hrtime() when the tunnel started
  uint64_t bytesFromClient = 0;  // tunnel bytes only: the 101 head is the exchange's
  uint64_t bytesFromUpstream = 0;
};

// The tunnel's line: ts (close time), type "tunnel", request_id, client, host, target, route,
// upstream_addr, protocol, opened, duration_ms, bytes_from_client, bytes_from_upstream,
// closed_by ("client", "upstream" or "proxy") and close_reason, escaped as appendJsonLine.
void appendTunnelJsonLine(std::string& out, const TunnelRecord& record, int64_t closedUnixMs,
                          double durationMs, std::string_view closedBy,
                          std::string_view closeReason);

// One JSON object and a newline, keys in the documented order, always all present (null when
// unknown). Strings are JSON-escaped (control bytes as \u00XX, bytes above 0x7F passed as they
// are only when they form valid UTF-8, else \u00XX too), so no request can forge a line.
void appendJsonLine(std::string& out, const ExchangeRecord& record);

// The classic cloud load balancer's access log line, so that the parsers, dashboards and queries
// built for it keep working (its documented field order, space-separated):
//   timestamp elb client:port backend:port request_processing_time backend_processing_time
//   response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
//   "request" "user_agent" ssl_cipher ssl_protocol
// `-` and `-1` where that format puts them for what is unknown (an answer hoplite gave itself
// has -1 for the three times, as that load balancer writes for a request it did not dispatch).
// The request line and the user agent escape '"', '\' and bytes outside printable ASCII as
// \xNN, so no client can forge a line or a field.
void appendElbLine(std::string& out, const ExchangeRecord& record);

// The wall clock in Unix milliseconds.
int64_t unixMillisecondsNow();

// "2026-12-03T11:45:10.123Z" for a Unix time in milliseconds (RFC 3339, UTC).
void appendRfc3339(std::string& out, int64_t unixMs);

}  // namespace hoplite::proxy::observe
