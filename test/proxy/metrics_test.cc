// The metrics: where each labelled series lives in a worker's cells, the Prometheus text built
// from them, the admin listener's answers, and the table shared with a forked process.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "proxy/admin/admin_pages.h"
#include "proxy/admin/admin_state.h"
#include "proxy/observe/generations.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/observe/metrics_table.h"
#include "proxy/observe/prometheus_text.h"
#include "proxy/observe/worker_metrics.h"

namespace hoplite::proxy::observe {
namespace {

// Two upstreams (one with two servers), three routes, one of them named and allowing its own
// protocol.
conf::Config twoUpstreams() {
  conf::Config config;
  config.listen = {{"127.0.0.1", 8080}, {"::1", 8081}};
  config.upstreams["web"].servers = {{"127.0.0.1", 3001}, {"fd00::1", 3002}};
  config.upstreams["api"].servers = {{"10.0.0.11", 8000}};
  conf::Route api;
  api.name = "api";
  api.upstream = "api";
  api.upgrade = conf::UpgradeSettings{{"websocket", "echo"}};
  conf::Route web;
  web.upstream = "web";
  conf::Route other;
  other.upstream = "web";
  config.routes = {api, web, other};
  return config;
}

TEST_CASE("proxy: the metric layout labels come from the config", "[proxy][metrics]") {
  const MetricLayout layout(twoUpstreams());
  CHECK(layout.listeners == std::vector<std::string>{"127.0.0.1:8080", "[::1]:8081"});
  CHECK(layout.routes == std::vector<std::string>{"api", "1", "2"});
  CHECK(layout.upstreams == std::vector<std::string>{"api", "web"});  // sorted by name
  REQUIRE(layout.servers.size() == 3);
  CHECK(layout.servers[0].text == "10.0.0.11:8000");
  CHECK(layout.servers[2].text == "[fd00::1]:3002");
  CHECK(layout.servers[2].upstream == 1);
  CHECK(layout.firstServer == std::vector<size_t>{0, 1});
  CHECK(layout.routeUpstream == std::vector<size_t>{0, 1, 1});
  CHECK(layout.protocols == std::vector<std::string>{"websocket", "echo", "other"});
  CHECK(layout.protocolIndex("echo") == 1);
  CHECK(layout.protocolIndex("h2c") == 2);
}

TEST_CASE("proxy: every family's cells are its own", "[proxy][metrics]") {
  const MetricLayout layout(twoUpstreams());
  const size_t routes = layout.routes.size();
  const std::vector<std::pair<size_t, size_t>> families = {
      {layout.acceptedByListener, layout.listeners.size()},
      {layout.closedByListener, layout.listeners.size()},
      {layout.requests, routes * kStatusClasses},
      {layout.requestDuration, routes * kHistogramCells},
      {layout.upgrades, routes * layout.protocols.size() * kUpgradeResults},
      {layout.tunnelsOpened, routes},
      {layout.tunnelsClosed, routes * kTunnelCloseReasons.size()},
      {layout.tunnelBytes, routes * kDirections.size()},
      {layout.tunnelDuration, routes * kHistogramCells},
      {layout.upstreamRequests, layout.servers.size() * kStatusClasses},
      {layout.connectFailures, layout.servers.size() * kConnectFailures},
      {layout.upstreamHeader, layout.upstreams.size() * kHistogramCells},
      {layout.serverLastUp, layout.servers.size()},
      {layout.serverLastDown, layout.servers.size()},
      {layout.serverEjections, layout.servers.size()},
      {layout.serverCheckedDown, layout.servers.size()},
      {layout.rejected, kRejections.size()},
  };
  std::set<size_t> used;
  size_t total = 0;
  for (const auto& [offset, count] : families) {
    for (size_t i = 0; i < count; ++i) used.insert(offset + i);
    total += count;
  }
  CHECK(used.size() == total);  // no cell in two families
  CHECK(total == layout.cellCount);
  CHECK(*used.rbegin() == layout.cellCount - 1);
}

TEST_CASE("proxy: histogram buckets and status classes", "[proxy][metrics]") {
  const auto [microseconds, bucket] = GENERATE(table<uint64_t, size_t>({
      {0, 0},
      {1000, 0},  // le="0.001" includes 1 ms
      {1001, 1},
      {2500, 1},
      {59'999'999, 14},
      {60'000'000, 14},
      {60'000'001, 15},  // +Inf
  }));
  CAPTURE(microseconds);
  CHECK(histogramBucket(microseconds) == bucket);
  CHECK(statusClass(101) == 0);
  CHECK(statusClass(204) == 1);
  CHECK(statusClass(599) == 4);
  CHECK(statusClass(42) == 4);
  CHECK(rejectionIndex(404, "no_route").has_value());
  CHECK_FALSE(rejectionIndex(404, "bad_request").has_value());
}

// The line of a series in an exposition, e.g. `hoplite_workers 1`; "" when absent.
std::string lineOf(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  const size_t end = text.find('\n', at + 1);
  return text.substr(at + 1, end - at - 1);
}

TEST_CASE("proxy: the exposition shows what was counted, summed over the slots",
          "[proxy][metrics]") {
  const conf::Config config = twoUpstreams();
  const MetricLayout layout(config);
  const auto table = MetricsTable::create(2, layout.cellCount);
  REQUIRE(table);
  WorkerMetrics first(layout, table->counters(0), table->cells(0));
  WorkerMetrics second(layout, table->counters(1), table->cells(1));
  first.connectionAccepted(0);
  second.connectionAccepted(0);
  second.connectionAccepted(1);
  second.connectionClosed(0);
  first.exchangeDone(0, 200, 500);      // api 2xx, 0.5 ms
  second.exchangeDone(0, 204, 30'000);  // api 2xx, 30 ms
  second.exchangeDone(1, 502, 100);     // route 1 5xx
  first.exchangeDone(2, 0, 100);        // no response: not counted
  first.rejected(431, "header_too_large");
  first.upgrade(0, layout.protocolIndex("echo"), UpgradeResult::NotSwitched);
  first.upstreamResponse(2, 503);
  first.connectFailed(1, ConnectFailure::Refused, 1000);
  second.tunnelOpened(0);
  second.tunnelOpened(0);
  second.tunnelBytes(0, true, 10);
  second.tunnelBytes(0, false, 32);
  second.tunnelClosed(0, "tunnel_idle", 2'000'000);
  ++table->counters(1).timeoutTunnelIdle;
  table->counters(0).logLinesDropped = 7;

  RuntimeFacts runtime;
  runtime.version = "9.9.9";
  runtime.workers = 2;
  ProcessFacts process;
  process.residentBytes = 4096;
  const std::string text =
      "\n" + renderPrometheus(layout, table->sumCounters(), table->sumCells(layout.cellCount),
                              runtime, process);
  CHECK(lineOf(text, "hoplite_build_info{version=\"9.9.9\"}") ==
        "hoplite_build_info{version=\"9.9.9\"} 1");
  CHECK(lineOf(text, "hoplite_connections_accepted_total{listener=\"127.0.0.1:8080\"}")
            .ends_with(" 2"));
  CHECK(lineOf(text, "hoplite_connections_open{listener=\"127.0.0.1:8080\"}").ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_connections_open{listener=\"[::1]:8081\"}").ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_requests_total{route=\"api\",code=\"2xx\"}").ends_with(" 2"));
  CHECK(lineOf(text, "hoplite_requests_total{route=\"1\",code=\"5xx\"}").ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_requests_total{route=\"2\",code=\"1xx\"}").ends_with(" 0"));
  // Cumulative buckets: 0.5 ms in the first, 30 ms from le="0.05" on.
  CHECK(lineOf(text, "hoplite_request_duration_seconds_bucket{route=\"api\",le=\"0.001\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_request_duration_seconds_bucket{route=\"api\",le=\"0.025\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_request_duration_seconds_bucket{route=\"api\",le=\"0.05\"}")
            .ends_with(" 2"));
  CHECK(lineOf(text, "hoplite_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"}")
            .ends_with(" 2"));
  CHECK(lineOf(text, "hoplite_request_duration_seconds_sum{route=\"api\"}") ==
        "hoplite_request_duration_seconds_sum{route=\"api\"} 0.030500");
  CHECK(lineOf(text, "hoplite_request_duration_seconds_count{route=\"api\"}").ends_with(" 2"));
  CHECK(lineOf(text, "hoplite_rejected_requests_total{status=\"431\",reason=\"header_too_large\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text,
               "hoplite_upgrades_total{route=\"api\",protocol=\"echo\",result=\"not_switched\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text,
               "hoplite_upstream_requests_total{upstream=\"web\",server=\"[fd00::1]:3002\","
               "code=\"5xx\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text,
               "hoplite_upstream_connect_failures_total{upstream=\"web\",server=\"127.0.0."
               "1:3001\",reason=\"refused\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_tunnels_open{route=\"api\"}").ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_tunnels_closed_total{route=\"api\",reason=\"tunnel_idle\"}")
            .ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_tunnel_bytes_total{route=\"api\",direction=\"from_client\"}")
            .ends_with(" 10"));
  CHECK(lineOf(text, "hoplite_tunnel_bytes_total{route=\"api\",direction=\"from_upstream\"}")
            .ends_with(" 32"));
  CHECK(lineOf(text, "hoplite_timeouts_total{timeout=\"tunnel_idle\"}").ends_with(" 1"));
  CHECK(lineOf(text, "hoplite_log_lines_dropped_total") == "hoplite_log_lines_dropped_total 7");
  CHECK(lineOf(text, "process_resident_memory_bytes") == "process_resident_memory_bytes 4096");
  CHECK(lineOf(text, "hoplite_workers") == "hoplite_workers 2");
  // Every family has its HELP and TYPE.
  CHECK(text.find("# TYPE hoplite_request_duration_seconds histogram\n") != std::string::npos);
  CHECK(text.find("# TYPE hoplite_tunnels_open gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
}

TEST_CASE("proxy: a reload that keeps every label counts on in the same cells",
          "[proxy][metrics][reload]") {
  const conf::Config config = twoUpstreams();
  auto first = std::make_shared<MetricLayout>(config);
  first->listeners = {"127.0.0.1:8080", "[::1]:8081"};
  Generations generations(first, 1000);
  conf::Config retimed = config;
  retimed.timeouts.clientIdle = std::chrono::seconds(5);
  retimed.routes[1].upstream = "api";  // another upstream, the same labels
  std::string problem;
  const auto next = generations.layoutFor(retimed, first->listeners, 1 << 20, problem);
  REQUIRE(next);
  CHECK(next->base == first->base);
  CHECK(next->cellCount == first->cellCount);
  CHECK(next->routeUpstream[1] == next->upstreamIndex("api"));
  generations.adopt(next, 2000);
  CHECK(generations.number() == 2);
  CHECK(generations.loadedUnixMs() == 2000);
  // A different bound port is a different label.
  const auto moved =
      generations.layoutFor(retimed, {"127.0.0.1:9999", "[::1]:8081"}, 1 << 20, problem);
  REQUIRE(moved);
  CHECK(moved->base == first->cellCount);
}

TEST_CASE(
    "proxy: a reload with new labels takes new cells, and the counts fold into the current "
    "labels",
    "[proxy][metrics][reload]") {
  const conf::Config config = twoUpstreams();
  auto first = std::make_shared<MetricLayout>(config);
  const std::vector<std::string> listeners = {"127.0.0.1:8080", "[::1]:8081"};
  first->listeners = listeners;
  const auto table = MetricsTable::create(2, first->cellCount, 1 << 16);
  REQUIRE(table);
  Generations generations(first, 1000);
  WorkerMetrics old(*first, table->counters(0), table->cells(0));
  old.connectionAccepted(0);
  old.exchangeDone(0, 200, 500);                        // route "api"
  old.exchangeDone(2, 404, 500);                        // route "2", dropped below
  old.connectFailed(0, ConnectFailure::Refused, 7000);  // api's 10.0.0.11:8000

  // Route "2" goes, a route "new" comes; the "web" upstream loses a server.
  conf::Config next = config;
  next.routes[2].name = "new";
  next.upstreams["web"].servers = {{"127.0.0.1", 3001}};
  std::string problem;
  const auto layout = generations.layoutFor(next, listeners, table->capacity(), problem);
  REQUIRE(layout);
  CHECK(layout->base == first->cellCount);
  table->prepare(1, layout->base, layout->cellCount);
  generations.adopt(layout, 2000);
  WorkerMetrics fresh(*layout, table->counters(1), table->cells(1));
  fresh.connectionAccepted(0);
  fresh.exchangeDone(0, 201, 500);
  fresh.exchangeDone(2, 500, 500);  // route "new"
  fresh.connected(0, 9000);
  old.exchangeDone(0, 200, 500);  // an exchange still on the first generation ends
  old.connectionClosed(0);

  const std::vector<uint64_t> cells = generations.foldedCells(*table);
  REQUIRE(cells.size() == layout->cellCount);
  const auto requests = [&](size_t route, size_t code) {
    return cells[layout->requests + route * kStatusClasses + code];
  };
  CHECK(requests(0, 1) == 3);  // "api" 2xx: two before and after the reload, one after
  CHECK(requests(2, 3) == 0);  // "new" 4xx: route "2"'s 404 is not its count
  CHECK(requests(2, 4) == 1);
  CHECK(cells[layout->acceptedByListener] == 2);
  CHECK(cells[layout->closedByListener] == 1);
  const size_t api = layout->firstServer[layout->upstreamIndex("api")];
  CHECK(cells[layout->connectFailures + api * kConnectFailures] == 1);
  CHECK(cells[layout->serverLastDown + api] == 7000);
  CHECK(cells[layout->serverLastUp + api] == 9000);  // fresh.connected(0): api is server 0

  // Room runs out: the reload is refused, with why.
  const auto tooBig =
      generations.layoutFor(config, {"127.0.0.1:1", "[::1]:2"}, layout->cellCount + 10, problem);
  CHECK_FALSE(tooBig);
  CHECK(problem.find("restart hoplite to apply this config") != std::string::npos);
}

TEST_CASE("proxy: slots reserved for workers a reload starts count once in use",
          "[proxy][metrics]") {
  const MetricLayout layout(twoUpstreams());
  const auto table = MetricsTable::create(1, layout.cellCount, 1 << 12, 3);
  REQUIRE(table);
  CHECK(table->slotCount() == 1);
  CHECK(table->reservedSlots() == 3);
  table->counters(0).requests = 5;
  table->counters(1).requests = 7;  // reserved, not in use: left out of the sums
  CHECK(table->sumCounters().requests.load() == 5);
  CHECK(table->addSlot(layout.cellCount) == std::optional<size_t>(1));
  CHECK(table->sumCounters().requests.load() == 12);
  CHECK(table->addSlot(layout.cellCount) == std::optional<size_t>(2));
  CHECK_FALSE(table->addSlot(layout.cellCount).has_value());
  CHECK(table->slotCount() == 3);
}

TEST_CASE("proxy: a forked process's counts reach the parent through the shared table",
          "[proxy][metrics]") {
  const MetricLayout layout(twoUpstreams());
  const auto table = MetricsTable::create(2, layout.cellCount);
  REQUIRE(table);
  ++table->counters(0).requests;
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    WorkerMetrics worker(layout, table->counters(1), table->cells(1));
    worker.connectionAccepted(1);
    worker.connectFailed(0, ConnectFailure::Timeout, 5000);
    table->counters(1).requests = 41;
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(table->sumCounters().requests.load() == 42);
  CHECK(table->sumCells(layout.cellCount)[layout.acceptedByListener + 1] == 1);
  CHECK(table->maxCell(layout.serverLastDown + 0) == 5000);
  CHECK(table->maxCell(layout.serverLastUp + 0) == 0);
}

}  // namespace
}  // namespace hoplite::proxy::observe

namespace hoplite::proxy::admin {
namespace {

TEST_CASE("proxy: the admin listener's answers by method and path", "[proxy][admin]") {
  conf::Config config;
  config.listen = {{"127.0.0.1", 8080}};
  config.upstreams["app"].servers = {{"127.0.0.1", 3001}};
  conf::Route route;
  route.upstream = "app";
  config.routes = {route};
  const auto layout = std::make_shared<const observe::MetricLayout>(config);
  const auto metrics = observe::MetricsTable::create(1, layout->cellCount);
  REQUIRE(metrics);
  const observe::Generations generations(layout, 1000);
  bool draining = false;
  AdminState::Sources sources{"/etc/hoplite.json", 1000, 1,
                              [] { return std::vector<pid_t>{::getpid()}; },
                              [&draining] { return draining; }};
  const AdminState state(generations, *metrics, std::move(sources));

  const auto [method, target, status, bodyStart] =
      GENERATE(table<std::string, std::string, uint16_t, std::string>({
          {"GET", "/healthz", 200, "ok\n"},
          {"HEAD", "/healthz", 200, "ok\n"},
          {"GET", "/healthz?verbose", 200, "ok\n"},
          {"GET", "/status", 200, "{"},
          {"GET", "/metrics", 200, "# HELP hoplite_build_info"},
          {"POST", "/metrics", 405, "method not allowed"},
          {"DELETE", "/healthz", 405, "method not allowed"},
          {"GET", "/", 404, "not found"},
          {"GET", "/metrics/", 404, "not found"},
      }));
  CAPTURE(method, target);
  const AdminAnswer answer = answerAdmin(method, target, state);
  CHECK(answer.status == status);
  CHECK(answer.body.starts_with(bodyStart));
  CHECK(answer.allowHeader == (status == 405));
  const std::string wire = serializeAdminAnswer(answer, method == "HEAD");
  CHECK(wire.find("Content-Length: " + std::to_string(answer.body.size()) + "\r\n") !=
        std::string::npos);
  CHECK(wire.ends_with(method == "HEAD" ? "\r\n\r\n" : answer.body));

  draining = true;
  CHECK(answerAdmin("GET", "/healthz", state).status == 503);
  CHECK(answerAdmin("GET", "/healthz", state).body == "draining\n");
  CHECK(answerAdmin("GET", "/metrics", state).contentType == "text/plain; version=0.0.4");
}

}  // namespace
}  // namespace hoplite::proxy::admin
