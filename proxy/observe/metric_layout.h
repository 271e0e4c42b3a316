// Where each labelled metric lives in a worker's table of counter cells (metrics_table.h), and the
// label values it is shown with.
//
// Every label value comes from the config (listeners, route names, upstreams, servers, allowed
// upgrade protocols) or from a fixed list below, never from request data: the number of series
// is known when the config is loaded, and a client cannot grow it. The layout is computed once
// from the config, before the workers fork, so every worker and the admin listener agree on it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace hoplite::proxy::observe {

// Status classes, the `code` label: "1xx" ... "5xx".
inline constexpr size_t kStatusClasses = 5;
inline constexpr std::array<std::string_view, kStatusClasses> kStatusClassNames = {
    "1xx", "2xx", "3xx", "4xx", "5xx"};
// The class of a status (100..599); anything outside is counted as 5xx.
size_t statusClass(uint16_t status);

// The `result` of hoplite_upgrades_total.
enum class UpgradeResult : uint8_t {
  Granted,      // the backend answered a valid 101 and the tunnel started
  Refused,      // the protocol is not in upgrade.allow: forwarded as plain HTTP without Upgrade
  Rejected,     // an allowed protocol asked for improperly (bad handshake): 400/426
  NotSwitched,  // the backend answered something other than 101
  Invalid101,   // the backend's 101 failed the checks: 502
};
inline constexpr size_t kUpgradeResults = 5;
inline constexpr std::array<std::string_view, kUpgradeResults> kUpgradeResultNames = {
    "granted", "refused", "rejected", "not_switched", "invalid_101"};

// The `reason` of hoplite_upstream_connect_failures_total.
enum class ConnectFailure : uint8_t { Refused, Timeout, Unreachable, Resolve, Other };
inline constexpr size_t kConnectFailures = 5;
inline constexpr std::array<std::string_view, kConnectFailures> kConnectFailureNames = {
    "refused", "timeout", "unreachable", "resolve", "other"};

// The `reason` of hoplite_tunnels_closed_total: the access log's close_reason values.
inline constexpr std::array<std::string_view, 9> kTunnelCloseReasons = {
    "both_finished", "client_reset",    "upstream_reset", "client_error",  "upstream_error",
    "write_failed",  "shutdown_failed", "tunnel_idle",    "shutdown_drain"};
// The index of a close_reason in kTunnelCloseReasons. Tunnel passes only listed ones (asserted);
// should one be missing in a release build, it counts as the first.
size_t tunnelCloseReason(std::string_view reason);

// hoplite_rejected_requests_total{status,reason}: what hoplite refuses before a route is chosen,
// each with the access log's error code.
struct RejectionLabel {
  uint16_t status;
  std::string_view reason;
};
inline constexpr std::array<RejectionLabel, 8> kRejections = {{
    {400, "bad_request"},
    {404, "no_route"},
    {405, "method_not_allowed"},
    {408, "client_header_timeout"},
    {413, "body_too_large"},
    {431, "header_too_large"},
    {501, "not_implemented"},
    {505, "version_not_supported"},
}};
// The row for a status and reason; nothing when the pair is not one of kRejections.
std::optional<size_t> rejectionIndex(uint16_t status, std::string_view reason);

// Histogram bucket upper bounds, 1 ms to 60 s, in microseconds (the cells count in integers).
inline constexpr std::array<uint64_t, 15> kBucketBoundsUs = {
    1'000,   2'500,    5'000,    10'000,    25'000,     50'000,     100'000,   250'000,
    500'000, 1000'000, 2500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};
// A histogram's cells: one per bucket (not cumulative; the exposition sums them), one for +Inf,
// and the sum of the observations in microseconds. The count is the sum of the buckets.
inline constexpr size_t kHistogramCells = kBucketBoundsUs.size() + 2;
// The bucket cell for an observation.
size_t histogramBucket(uint64_t microseconds);

// hoplite_tunnel_bytes_total's `direction`.
inline constexpr std::array<std::string_view, 2> kDirections = {"from_client", "from_upstream"};

struct MetricLayout {
  // The cells of `config`'s labels, from cell `firstCell` of each slot on: 0 for the first config
  // generation; a reload whose labels differ takes the cells after the last ones used
  // (observe::Generations).
  explicit MetricLayout(const conf::Config& config, size_t firstCell = 0);

  // Whether `other` has the same label values (listeners, routes, upstreams, servers and
  // protocols), so that a new generation may count into the cells of this one.
  bool sameLabels(const MetricLayout& other) const;

  // Label values, in config order.
  std::vector<std::string> listeners;  // "127.0.0.1:8080" as the config wrote it
  std::vector<std::string> routes;     // the route's name, or its index
  std::vector<std::string> upstreams;  // in the config's (sorted) order of names
  struct ServerLabel {
    size_t upstream;   // index in `upstreams`
    std::string text;  // "10.0.0.11:8000" or "[fd00::1]:8000"
  };
  std::vector<ServerLabel> servers;   // every upstream's servers, upstream after upstream
  std::vector<size_t> firstServer;    // per upstream: the index of its first server in `servers`
  std::vector<size_t> routeUpstream;  // per route: the index of its upstream in `upstreams`
  // The protocols of every upgrade.allow list (top-level and per route), then "other" for an
  // upgrade asking for anything else.
  std::vector<std::string> protocols;

  // The index of an upstream by name (it exists: the loader checked every route's upstream).
  size_t upstreamIndex(std::string_view name) const;
  // The `protocol` label index of a lower-case protocol name ("other" when it is not listed).
  size_t protocolIndex(std::string_view protocol) const;

  // Offsets of each family's cells in a worker's table, each laid out row-major in the order of
  // its labels as listed.
  size_t acceptedByListener;  // [listener]
  size_t closedByListener;    // [listener]: open = accepted - closed
  size_t requests;            // [route][code]
  size_t requestDuration;     // [route] histogram
  size_t upgrades;            // [route][protocol][result]
  size_t tunnelsOpened;       // [route]
  size_t tunnelsClosed;       // [route][reason]: open = opened - closed
  size_t tunnelBytes;         // [route][direction]
  size_t tunnelDuration;      // [route] histogram
  size_t upstreamRequests;    // [server][code]
  size_t connectFailures;     // [server][reason]
  size_t upstreamHeader;      // [upstream] histogram
  // [server]: the wall clock (Unix ms) of the last connect that succeeded, and of the last that
  // failed, for /status ("up" when the later of the two is a success).
  size_t serverLastUp;
  size_t serverLastDown;
  size_t serverEjections;    // [server]: passive health ejections
  size_t serverCheckedDown;  // [server]: 1 while this worker's health checks say down, else 0
  size_t rejected;           // [kRejections row]
  size_t base;               // the first cell
  size_t cellCount;          // one past the last cell: the part of the table used up to this layout
};

}  // namespace hoplite::proxy::observe
