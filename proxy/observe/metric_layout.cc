#include "proxy/observe/metric_layout.h"

#include <algorithm>
#include <cassert>

namespace hoplite::proxy::observe {

size_t statusClass(uint16_t status) {
  if (status < 100 || status > 599) return 4;
  return status / 100 - 1;
}

size_t tunnelCloseReason(std::string_view reason) {
  for (size_t i = 0; i < kTunnelCloseReasons.size(); ++i) {
    if (kTunnelCloseReasons[i] == reason) return i;
  }
  assert(false && "a tunnel close reason missing from kTunnelCloseReasons");
  return 0;
}

std::optional<size_t> rejectionIndex(uint16_t status, std::string_view reason) {
  for (size_t i = 0; i < kRejections.size(); ++i) {
    if (kRejections[i].status == status && kRejections[i].reason == reason) return i;
  }
  return std::nullopt;
}

size_t histogramBucket(uint64_t microseconds) {
  size_t bucket = 0;
  while (bucket < kBucketBoundsUs.size() && microseconds > kBucketBoundsUs[bucket]) ++bucket;
  return bucket;  // kBucketBoundsUs.size() is +Inf
}

namespace {

// "10.0.0.11:8000", or "[fd00::1]:8000" for an IPv6 literal.
std::string hostPortText(const conf::HostPort& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  std::string text = v6 ? "[" + address.host + "]" : address.host;
  text.append(":").append(std::to_string(address.port));
  return text;
}

void addProtocols(std::vector<std::string>& protocols, const conf::UpgradeSettings& settings) {
  for (const std::string& protocol : settings.allow) {
    if (std::find(protocols.begin(), protocols.end(), protocol) == protocols.end()) {
      protocols.push_back(protocol);
    }
  }
}

}  // namespace

MetricLayout::MetricLayout(const conf::Config& config, size_t firstCell) : base(firstCell) {
  for (const conf::HostPort& address : config.listen) listeners.push_back(hostPortText(address));
  for (size_t i = 0; i < config.routes.size(); ++i) {
    routes.push_back(config.routes[i].name.empty() ? std::to_string(i) : config.routes[i].name);
  }
  for (const auto& [name, upstream] : config.upstreams) {
    firstServer.push_back(servers.size());
    for (const conf::HostPort& server : upstream.servers) {
      servers.push_back({upstreams.size(), hostPortText(server)});
    }
    upstreams.push_back(name);
  }
  for (const conf::Route& route : config.routes) {
    routeUpstream.push_back(upstreamIndex(route.upstream));
  }
  addProtocols(protocols, config.upgrade);
  for (const conf::Route& route : config.routes) {
    if (route.upgrade) addProtocols(protocols, *route.upgrade);
  }
  protocols.push_back("other");

  const size_t routeCount = routes.size();
  size_t next = base;
  const auto take = [&next](size_t cells) {
    const size_t offset = next;
    next += cells;
    return offset;
  };
  acceptedByListener = take(listeners.size());
  closedByListener = take(listeners.size());
  requests = take(routeCount * kStatusClasses);
  requestDuration = take(routeCount * kHistogramCells);
  upgrades = take(routeCount * protocols.size() * kUpgradeResults);
  tunnelsOpened = take(routeCount);
  tunnelsClosed = take(routeCount * kTunnelCloseReasons.size());
  tunnelBytes = take(routeCount * kDirections.size());
  tunnelDuration = take(routeCount * kHistogramCells);
  upstreamRequests = take(servers.size() * kStatusClasses);
  connectFailures = take(servers.size() * kConnectFailures);
  upstreamHeader = take(upstreams.size() * kHistogramCells);
  serverLastUp = take(servers.size());
  serverLastDown = take(servers.size());
  serverEjections = take(servers.size());
  serverCheckedDown = take(servers.size());
  rejected = take(kRejections.size());
  cellCount = next;
}

bool MetricLayout::sameLabels(const MetricLayout& other) const {
  const auto sameServers = [](const std::vector<ServerLabel>& a,
                              const std::vector<ServerLabel>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].upstream != b[i].upstream || a[i].text != b[i].text) return false;
    }
    return true;
  };
  return listeners == other.listeners && routes == other.routes && upstreams == other.upstreams &&
         protocols == other.protocols && sameServers(servers, other.servers);
}

size_t MetricLayout::upstreamIndex(std::string_view name) const {
  const auto found = std::find(upstreams.begin(), upstreams.end(), name);
  assert(found != upstreams.end());
  return static_cast<size_t>(found - upstreams.begin());
}

size_t MetricLayout::protocolIndex(std::string_view protocol) const {
  for (size_t i = 0; i + 1 < protocols.size(); ++i) {
    if (protocols[i] == protocol) return i;
  }
  return protocols.size() - 1;
}

}  // namespace hoplite::proxy::observe
