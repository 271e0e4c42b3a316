#include "proxy/observe/prometheus_text.h"

#include <array>
#include <cinttypes>
#include <cstdio>
#include <utility>

namespace hoplite::proxy::observe {

namespace {

// One family being written: its HELP and TYPE once, then its series.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    name_ = name;
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }

  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  void sample(Labels labels, uint64_t value, std::string_view suffix = {}) {
    startSample(labels, suffix);
    out_.append(std::to_string(value)).append("\n");
  }
  void sample(Labels labels, double value, std::string_view suffix = {}) {
    startSample(labels, suffix);
    char text[64];
    std::snprintf(text, sizeof text, "%.6f", value);
    out_.append(text).append("\n");
  }

  // A histogram from its cells (per-bucket counts, +Inf, the sum in microseconds): cumulative
  // buckets, _sum in seconds and _count, as the format requires.
  void histogram(Labels labels, const uint64_t* cells) {
    uint64_t cumulative = 0;
    for (size_t bucket = 0; bucket <= kBucketBoundsUs.size(); ++bucket) {
      cumulative += cells[bucket];
      char le[32];
      if (bucket == kBucketBoundsUs.size()) {
        std::snprintf(le, sizeof le, "+Inf");
      } else {
        std::snprintf(le, sizeof le, "%g", static_cast<double>(kBucketBoundsUs[bucket]) / 1e6);
      }
      startSample(labels, "_bucket", le);
      out_.append(std::to_string(cumulative)).append("\n");
    }
    sample(labels, static_cast<double>(cells[kHistogramCells - 1]) / 1e6, "_sum");
    sample(labels, cumulative, "_count");
  }

  std::string take() { return std::move(out_); }

 private:
  void startSample(Labels labels, std::string_view suffix, std::string_view le = {}) {
    out_.append(name_).append(suffix);
    if (labels.size() != 0 || !le.empty()) {
      out_.append("{");
      bool first = true;
      for (const auto& [key, value] : labels) {
        if (!first) out_.append(",");
        first = false;
        appendLabel(key, value);
      }
      if (!le.empty()) {
        if (!first) out_.append(",");
        appendLabel("le", le);
      }
      out_.append("}");
    }
    out_.append(" ");
  }

  // The format's label value escapes: backslash, double quote and line feed.
  void appendLabel(std::string_view key, std::string_view value) {
    out_.append(key).append("=\"");
    for (char c : value) {
      if (c == '\\') {
        out_.append("\\\\");
      } else if (c == '"') {
        out_.append("\\\"");
      } else if (c == '\n') {
        out_.append("\\n");
      } else {
        out_.push_back(c);
      }
    }
    out_.append("\"");
  }

  std::string out_;
  std::string_view name_;
};

// The timeout counters of proxy/counters.h under their config key.
struct TimeoutCounter {
  std::string_view key;
  CounterCell Counters::*member;
};
constexpr std::array<TimeoutCounter, 7> kTimeoutCounters = {{
    {"client_header", &Counters::timeoutClientHeader},
    {"client_idle", &Counters::timeoutClientIdle},
    {"client_body", &Counters::timeoutClientBody},
    {"upstream_connect", &Counters::timeoutUpstreamConnect},
    {"upstream_response", &Counters::timeoutUpstreamResponse},
    {"tunnel_idle", &Counters::timeoutTunnelIdle},
    {"shutdown_drain", &Counters::timeoutShutdownDrain},
}};

}  // namespace

std::string renderPrometheus(const MetricLayout& layout, const Counters& counters,
                             const std::vector<uint64_t>& cells, const RuntimeFacts& runtime,
                             const ProcessFacts& process) {
  Exposition out;
  const size_t routeCount = layout.routes.size();

  out.family("hoplite_build_info", "gauge", "Always 1; the version is in the label.");
  out.sample({{"version", runtime.version}}, uint64_t{1});
  out.family("hoplite_start_time_seconds", "gauge", "When hoplite started, in Unix seconds.");
  out.sample({}, runtime.startTimeSeconds);
  out.family("hoplite_config_loaded_timestamp_seconds", "gauge",
             "When the running config was loaded, in Unix seconds.");
  out.sample({}, runtime.configLoadedSeconds);
  out.family("hoplite_config_generation", "gauge",
             "The running config's generation: 1 at start, one more for each successful reload.");
  out.sample({}, runtime.configGeneration);
  out.family("hoplite_config_reloads_total", "counter",
             "Reloads (SIGHUP) by result: ok, or failed (the config kept running as it was).");
  out.sample({{"result", "ok"}}, runtime.reloadsOk);
  out.sample({{"result", "failed"}}, runtime.reloadsFailed);
  out.family("hoplite_workers", "gauge", "Worker processes configured (1: a single process).");
  out.sample({}, uint64_t{runtime.workers});

  out.family("hoplite_connections_accepted_total", "counter", "Client connections accepted.");
  for (size_t i = 0; i < layout.listeners.size(); ++i) {
    out.sample({{"listener", layout.listeners[i]}}, cells[layout.acceptedByListener + i]);
  }
  out.family("hoplite_connections_open", "gauge",
             "Client connections open, in HTTP mode or as a tunnel.");
  for (size_t i = 0; i < layout.listeners.size(); ++i) {
    out.sample({{"listener", layout.listeners[i]}},
               cells[layout.acceptedByListener + i] - cells[layout.closedByListener + i]);
  }

  out.family("hoplite_requests_total", "counter",
             "Requests answered on each route, by the status class the client got.");
  for (size_t route = 0; route < routeCount; ++route) {
    for (size_t code = 0; code < kStatusClasses; ++code) {
      out.sample({{"route", layout.routes[route]}, {"code", kStatusClassNames[code]}},
                 cells[layout.requests + route * kStatusClasses + code]);
    }
  }
  out.family("hoplite_request_duration_seconds", "histogram",
             "From the request head to the last response byte written to the client.");
  for (size_t route = 0; route < routeCount; ++route) {
    out.histogram({{"route", layout.routes[route]}},
                  &cells[layout.requestDuration + route * kHistogramCells]);
  }

  out.family("hoplite_upstream_requests_total", "counter",
             "Final response heads received from each server, by status class.");
  for (size_t server = 0; server < layout.servers.size(); ++server) {
    const MetricLayout::ServerLabel& label = layout.servers[server];
    for (size_t code = 0; code < kStatusClasses; ++code) {
      out.sample({{"upstream", layout.upstreams[label.upstream]},
                  {"server", label.text},
                  {"code", kStatusClassNames[code]}},
                 cells[layout.upstreamRequests + server * kStatusClasses + code]);
    }
  }
  out.family("hoplite_upstream_connect_failures_total", "counter",
             "Connections to a server that could not be made, by reason.");
  for (size_t server = 0; server < layout.servers.size(); ++server) {
    const MetricLayout::ServerLabel& label = layout.servers[server];
    for (size_t reason = 0; reason < kConnectFailures; ++reason) {
      out.sample({{"upstream", layout.upstreams[label.upstream]},
                  {"server", label.text},
                  {"reason", kConnectFailureNames[reason]}},
                 cells[layout.connectFailures + server * kConnectFailures + reason]);
    }
  }
  out.family("hoplite_upstream_ejections_total", "counter",
             "Times passive health ejected a server (connect failures within fail_window).");
  for (size_t server = 0; server < layout.servers.size(); ++server) {
    const MetricLayout::ServerLabel& label = layout.servers[server];
    out.sample({{"upstream", layout.upstreams[label.upstream]}, {"server", label.text}},
               cells[layout.serverEjections + server]);
  }
  out.family("hoplite_upstream_server_up", "gauge",
             "0 while the health checks (of any worker) say a server is down, else 1.");
  for (size_t server = 0; server < layout.servers.size(); ++server) {
    const MetricLayout::ServerLabel& label = layout.servers[server];
    out.sample({{"upstream", layout.upstreams[label.upstream]}, {"server", label.text}},
               uint64_t{cells[layout.serverCheckedDown + server] == 0 ? 1u : 0u});
  }
  out.family("hoplite_upstream_header_seconds", "histogram",
             "From the request sent upstream to the response head received.");
  for (size_t upstream = 0; upstream < layout.upstreams.size(); ++upstream) {
    out.histogram({{"upstream", layout.upstreams[upstream]}},
                  &cells[layout.upstreamHeader + upstream * kHistogramCells]);
  }

  out.family("hoplite_upgrades_total", "counter",
             "Upgrade requests, by protocol and by what became of them.");
  for (size_t route = 0; route < routeCount; ++route) {
    for (size_t protocol = 0; protocol < layout.protocols.size(); ++protocol) {
      for (size_t result = 0; result < kUpgradeResults; ++result) {
        out.sample({{"route", layout.routes[route]},
                    {"protocol", layout.protocols[protocol]},
                    {"result", kUpgradeResultNames[result]}},
                   cells[layout.upgrades +
                         (route * layout.protocols.size() + protocol) * kUpgradeResults + result]);
      }
    }
  }

  out.family("hoplite_tunnels_open", "gauge", "Tunnels open (after an accepted 101).");
  for (size_t route = 0; route < routeCount; ++route) {
    uint64_t closed = 0;
    for (size_t reason = 0; reason < kTunnelCloseReasons.size(); ++reason) {
      closed += cells[layout.tunnelsClosed + route * kTunnelCloseReasons.size() + reason];
    }
    out.sample({{"route", layout.routes[route]}}, cells[layout.tunnelsOpened + route] - closed);
  }
  out.family("hoplite_tunnels_closed_total", "counter",
             "Tunnels closed, by the access log's close_reason.");
  for (size_t route = 0; route < routeCount; ++route) {
    for (size_t reason = 0; reason < kTunnelCloseReasons.size(); ++reason) {
      out.sample({{"route", layout.routes[route]}, {"reason", kTunnelCloseReasons[reason]}},
                 cells[layout.tunnelsClosed + route * kTunnelCloseReasons.size() + reason]);
    }
  }
  out.family("hoplite_tunnel_bytes_total", "counter",
             "Bytes copied by tunnels (the 101 head excluded), by direction.");
  for (size_t route = 0; route < routeCount; ++route) {
    for (size_t direction = 0; direction < kDirections.size(); ++direction) {
      out.sample({{"route", layout.routes[route]}, {"direction", kDirections[direction]}},
                 cells[layout.tunnelBytes + route * kDirections.size() + direction]);
    }
  }
  out.family("hoplite_tunnel_duration_seconds", "histogram", "How long closed tunnels were open.");
  for (size_t route = 0; route < routeCount; ++route) {
    out.histogram({{"route", layout.routes[route]}},
                  &cells[layout.tunnelDuration + route * kHistogramCells]);
  }

  out.family("hoplite_rejected_requests_total", "counter",
             "Requests hoplite refused before choosing a route.");
  for (size_t row = 0; row < kRejections.size(); ++row) {
    const std::string status = std::to_string(kRejections[row].status);
    out.sample({{"status", status}, {"reason", kRejections[row].reason}},
               cells[layout.rejected + row]);
  }
  out.family("hoplite_timeouts_total", "counter", "Timeouts that expired, by their config key.");
  for (const TimeoutCounter& timeout : kTimeoutCounters) {
    out.sample({{"timeout", timeout.key}}, (counters.*timeout.member).load());
  }
  out.family("hoplite_log_lines_dropped_total", "counter",
             "Access log lines lost to a failing or blocked write.");
  out.sample({}, counters.logLinesDropped.load());

  out.family("process_resident_memory_bytes", "gauge",
             "Resident memory, summed over the supervisor and its workers.");
  out.sample({}, process.residentBytes);
  out.family("process_open_fds", "gauge",
             "Open file descriptors, summed over the supervisor and its workers.");
  out.sample({}, process.openFds);
  out.family("process_cpu_seconds_total", "counter",
             "User and system CPU time, summed over the supervisor and its workers.");
  out.sample({}, process.cpuSeconds);
  out.family("process_start_time_seconds", "gauge",
             "When the first hoplite process (the supervisor) started, in Unix seconds.");
  out.sample({}, process.startTimeSeconds);
  return out.take();
}

}  // namespace hoplite::proxy::observe
