// What one worker's loop records into its slot of the MetricsTable: the one place where the
// session, the tunnel and the server count what happened, by label index.
//
// Each call is a few relaxed loads and stores into memory this worker alone writes; nothing here
// formats text or allocates (the admin listener does that when it is scraped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/counters.h"
#include "proxy/observe/metric_layout.h"

namespace hoplite::proxy::observe {

// False only in the benchmark's comparison build (CMake HOPLITE_WITHOUT_METRICS, bench scenario
// 14), where every call below does nothing and the session takes no clock reads for them.
#ifdef HOPLITE_WITHOUT_METRICS
inline constexpr bool kMetricsRecorded = false;
#else
inline constexpr bool kMetricsRecorded = true;
#endif

class WorkerMetrics {
 public:
  WorkerMetrics(const MetricLayout& layout, Counters& counters, CounterCell* cells)
      : layout_(layout), counters_(counters), cells_(cells) {}

  const MetricLayout& layout() const { return layout_; }
  // The fixed counters of the exit line (proxy/counters.h), in the same slot.
  Counters& counters() const { return counters_; }

  void connectionAccepted(size_t listener) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.acceptedByListener + listener];
  }
  void connectionClosed(size_t listener) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.closedByListener + listener];
  }

  // An exchange on `route` ended with `status` sent to the client (0: none was; not counted).
  void exchangeDone(size_t route, uint16_t status, uint64_t durationUs) {
    if constexpr (!kMetricsRecorded) return;
    if (status == 0) return;
    ++cells_[layout_.requests + route * kStatusClasses + statusClass(status)];
    observe(layout_.requestDuration + route * kHistogramCells, durationUs);
  }
  // A request refused before a route was chosen (kRejections); other pairs are not counted.
  void rejected(uint16_t status, std::string_view reason) {
    if constexpr (!kMetricsRecorded) return;
    if (const std::optional<size_t> row = rejectionIndex(status, reason)) {
      ++cells_[layout_.rejected + *row];
    }
  }
  void upgrade(size_t route, size_t protocol, UpgradeResult result) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.upgrades + (route * layout_.protocols.size() + protocol) * kUpgradeResults +
             static_cast<size_t>(result)];
  }

  // The final response head from `server` (index in MetricLayout::servers).
  void upstreamResponse(size_t server, uint16_t status) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.upstreamRequests + server * kStatusClasses + statusClass(status)];
  }
  void upstreamHeader(size_t upstream, uint64_t microseconds) {
    if constexpr (!kMetricsRecorded) return;
    observe(layout_.upstreamHeader + upstream * kHistogramCells, microseconds);
  }
  void connectFailed(size_t server, ConnectFailure reason, int64_t unixMs) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.connectFailures + server * kConnectFailures + static_cast<size_t>(reason)];
    cells_[layout_.serverLastDown + server] = static_cast<uint64_t>(unixMs);
  }
  void connected(size_t server, int64_t unixMs) {
    if constexpr (!kMetricsRecorded) return;
    cells_[layout_.serverLastUp + server] = static_cast<uint64_t>(unixMs);
  }
  void ejected(size_t server) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.serverEjections + server];
  }
  // The health checks' verdict on `server` changed (kept as a 0/1 gauge, not counted).
  void checkedDown(size_t server, bool down) {
    if constexpr (!kMetricsRecorded) return;
    cells_[layout_.serverCheckedDown + server] = down ? 1 : 0;
  }

  void tunnelOpened(size_t route) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.tunnelsOpened + route];
  }
  // Bytes copied by a tunnel: `fromClient` or from the upstream.
  void tunnelBytes(size_t route, bool fromClient, uint64_t bytes) {
    if constexpr (!kMetricsRecorded) return;
    cells_[layout_.tunnelBytes + route * kDirections.size() + (fromClient ? 0 : 1)].add(bytes);
  }
  void tunnelClosed(size_t route, std::string_view reason, uint64_t durationUs) {
    if constexpr (!kMetricsRecorded) return;
    ++cells_[layout_.tunnelsClosed + route * kTunnelCloseReasons.size() +
             tunnelCloseReason(reason)];
    observe(layout_.tunnelDuration + route * kHistogramCells, durationUs);
  }

 private:
  void observe(size_t histogram, uint64_t microseconds) {
    ++cells_[histogram + histogramBucket(microseconds)];
    cells_[histogram + kHistogramCells - 1].add(microseconds);
  }

  const MetricLayout& layout_;
  Counters& counters_;
  CounterCell* cells_;
};

}  // namespace hoplite::proxy::observe
