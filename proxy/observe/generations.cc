#include "proxy/observe/generations.h"

#include <algorithm>
#include <optional>
#include <string_view>

namespace hoplite::proxy::observe {

namespace {

template <typename Labels, typename Value>
std::optional<size_t> indexOf(const Labels& labels, const Value& value) {
  const auto found = std::find(labels.begin(), labels.end(), value);
  if (found == labels.end()) return std::nullopt;
  return static_cast<size_t>(found - labels.begin());
}

std::optional<size_t> serverIndex(const MetricLayout& layout, std::string_view upstream,
                                  std::string_view text) {
  for (size_t i = 0; i < layout.servers.size(); ++i) {
    const MetricLayout::ServerLabel& label = layout.servers[i];
    if (layout.upstreams[label.upstream] == upstream && label.text == text) return i;
  }
  return std::nullopt;
}

// Adds the cells of one set (`from`, whose counts are at its offsets in `in`) into `out` at the
// offsets of `into`, for every label value the two layouts share.
class Folder {
 public:
  Folder(const MetricLayout& from, const std::vector<uint64_t>& in, const MetricLayout& into,
         std::vector<uint64_t>& out)
      : from_(from), in_(in), into_(into), out_(out) {}

  void fold() {
    for (size_t i = 0; i < from_.listeners.size(); ++i) {
      if (const auto j = indexOf(into_.listeners, from_.listeners[i])) {
        add(from_.acceptedByListener + i, into_.acceptedByListener + *j, 1);
        add(from_.closedByListener + i, into_.closedByListener + *j, 1);
      }
    }
    for (size_t route = 0; route < from_.routes.size(); ++route) {
      if (const auto to = indexOf(into_.routes, from_.routes[route])) foldRoute(route, *to);
    }
    for (size_t server = 0; server < from_.servers.size(); ++server) {
      const MetricLayout::ServerLabel& label = from_.servers[server];
      if (const auto to = serverIndex(into_, from_.upstreams[label.upstream], label.text)) {
        add(from_.upstreamRequests + server * kStatusClasses,
            into_.upstreamRequests + *to * kStatusClasses, kStatusClasses);
        add(from_.connectFailures + server * kConnectFailures,
            into_.connectFailures + *to * kConnectFailures, kConnectFailures);
        latest(from_.serverLastUp + server, into_.serverLastUp + *to);
        latest(from_.serverLastDown + server, into_.serverLastDown + *to);
        add(from_.serverEjections + server, into_.serverEjections + *to, 1);
        // serverCheckedDown is a gauge of the checks running now: only the current cells
        // count, and the Server writes them again at each reload.
        if (&from_ == &into_)
          add(from_.serverCheckedDown + server, into_.serverCheckedDown + *to, 1);
      }
    }
    for (size_t upstream = 0; upstream < from_.upstreams.size(); ++upstream) {
      if (const auto to = indexOf(into_.upstreams, from_.upstreams[upstream])) {
        add(from_.upstreamHeader + upstream * kHistogramCells,
            into_.upstreamHeader + *to * kHistogramCells, kHistogramCells);
      }
    }
    add(from_.rejected, into_.rejected, kRejections.size());
  }

 private:
  void foldRoute(size_t route, size_t to) {
    add(from_.requests + route * kStatusClasses, into_.requests + to * kStatusClasses,
        kStatusClasses);
    add(from_.requestDuration + route * kHistogramCells,
        into_.requestDuration + to * kHistogramCells, kHistogramCells);
    for (size_t protocol = 0; protocol < from_.protocols.size(); ++protocol) {
      // "other" is last in both lists, so it is found by name like the rest.
      const auto toProtocol = indexOf(into_.protocols, from_.protocols[protocol]);
      if (!toProtocol) continue;
      add(from_.upgrades + (route * from_.protocols.size() + protocol) * kUpgradeResults,
          into_.upgrades + (to * into_.protocols.size() + *toProtocol) * kUpgradeResults,
          kUpgradeResults);
    }
    add(from_.tunnelsOpened + route, into_.tunnelsOpened + to, 1);
    add(from_.tunnelsClosed + route * kTunnelCloseReasons.size(),
        into_.tunnelsClosed + to * kTunnelCloseReasons.size(), kTunnelCloseReasons.size());
    add(from_.tunnelBytes + route * kDirections.size(), into_.tunnelBytes + to * kDirections.size(),
        kDirections.size());
    add(from_.tunnelDuration + route * kHistogramCells, into_.tunnelDuration + to * kHistogramCells,
        kHistogramCells);
  }

  void add(size_t from, size_t to, size_t count) {
    for (size_t i = 0; i < count; ++i) out_[to + i] += in_[from + i];
  }
  void latest(size_t from, size_t to) { out_[to] = std::max(out_[to], in_[from]); }

  const MetricLayout& from_;
  const std::vector<uint64_t>& in_;
  const MetricLayout& into_;
  std::vector<uint64_t>& out_;
};

}  // namespace

Generations::Generations(std::shared_ptr<const MetricLayout> first, int64_t loadedUnixMs)
    : regions_{std::move(first)}, loadedUnixMs_(loadedUnixMs) {}

std::shared_ptr<MetricLayout> Generations::layoutFor(const conf::Config& config,
                                                     const std::vector<std::string>& listenerLabels,
                                                     size_t capacity, std::string& problem) const {
  const MetricLayout& current = layout();
  auto next = std::make_shared<MetricLayout>(config, current.base);
  next->listeners = listenerLabels;
  if (next->sameLabels(current)) return next;
  next = std::make_shared<MetricLayout>(config, current.cellCount);
  next->listeners = listenerLabels;
  if (next->cellCount > capacity) {
    problem = "the metrics table is full: its labels changed in too many reloads (" +
              std::to_string(current.cellCount) + " of " + std::to_string(capacity) +
              " cells used, " + std::to_string(next->cellCount - next->base) +
              " more needed); restart hoplite to apply this config";
    return nullptr;
  }
  return next;
}

void Generations::adopt(std::shared_ptr<const MetricLayout> layout, int64_t loadedUnixMs,
                        uint64_t number) {
  if (layout->base == regions_.back()->base) {
    regions_.back() = std::move(layout);  // the same cells, counted on by the new generation
  } else {
    regions_.push_back(std::move(layout));
  }
  number_ = number != 0 ? number : number_ + 1;
  loadedUnixMs_ = loadedUnixMs;
}

std::vector<uint64_t> Generations::foldedCells(const MetricsTable& table) const {
  const MetricLayout& current = layout();
  std::vector<uint64_t> sums = table.sumCells(current.cellCount);
  // Times are not added up over the slots: the latest is the news.
  for (const auto& region : regions_) {
    for (size_t server = 0; server < region->servers.size(); ++server) {
      sums[region->serverLastUp + server] = table.maxCell(region->serverLastUp + server);
      sums[region->serverLastDown + server] = table.maxCell(region->serverLastDown + server);
    }
  }
  if (regions_.size() == 1) return sums;  // nothing to fold: the current cells are all there is
  std::vector<uint64_t> folded(current.cellCount, 0);
  for (const auto& region : regions_) Folder(*region, sums, current, folded).fold();
  return folded;
}

}  // namespace hoplite::proxy::observe
