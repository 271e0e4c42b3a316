#include "proxy/admin/admin_state.h"

#include <nlohmann/json.hpp>

#include "proxy/observe/exchange_record.h"
#include "proxy/observe/process_stats.h"
#include "proxy/observe/prometheus_text.h"

namespace hoplite::proxy::admin {

namespace {

double seconds(int64_t unixMs) {
  return static_cast<double>(unixMs) / 1000.0;
}

nlohmann::ordered_json timeOrNull(uint64_t unixMs) {
  if (unixMs == 0) return nullptr;
  std::string text;
  observe::appendRfc3339(text, static_cast<int64_t>(unixMs));
  return text;
}

}  // namespace

AdminState::AdminState(const observe::Generations& generations, const observe::MetricsTable& table,
                       Sources sources)
    : generations_(generations), table_(table), sources_(std::move(sources)) {}

std::string AdminState::metricsText() const {
  observe::RuntimeFacts runtime;
  runtime.version = HOPLITE_VERSION;
  runtime.startTimeSeconds = seconds(sources_.startUnixMs);
  runtime.configLoadedSeconds = seconds(generations_.loadedUnixMs());
  runtime.configGeneration = generations_.number();
  runtime.reloadsOk = generations_.reloadsOk;
  runtime.reloadsFailed = generations_.reloadsFailed;
  runtime.workers = sources_.workerCount ? sources_.workerCount() : sources_.workers;
  const std::vector<pid_t> pids = sources_.processes();
  return observe::renderPrometheus(generations_.layout(), table_.sumCounters(),
                                   generations_.foldedCells(table_), runtime,
                                   observe::readProcessFacts(pids));
}

namespace {

AdminState::OpenCounts openCountsOf(const observe::MetricLayout& layout,
                                    const std::vector<uint64_t>& cells) {
  AdminState::OpenCounts open;
  for (size_t i = 0; i < layout.listeners.size(); ++i) {
    open.connections += cells[layout.acceptedByListener + i] - cells[layout.closedByListener + i];
  }
  for (size_t route = 0; route < layout.routes.size(); ++route) {
    open.tunnels += cells[layout.tunnelsOpened + route];
    for (size_t reason = 0; reason < observe::kTunnelCloseReasons.size(); ++reason) {
      open.tunnels -=
          cells[layout.tunnelsClosed + route * observe::kTunnelCloseReasons.size() + reason];
    }
  }
  return open;
}

}  // namespace

AdminState::OpenCounts AdminState::openCounts() const {
  return openCountsOf(generations_.layout(), generations_.foldedCells(table_));
}

std::string AdminState::statusJson() const {
  const observe::MetricLayout& layout = generations_.layout();
  const std::vector<uint64_t> cells = generations_.foldedCells(table_);
  const OpenCounts open = openCountsOf(layout, cells);
  const uint64_t connectionsOpen = open.connections;
  const uint64_t tunnelsOpen = open.tunnels;
  nlohmann::ordered_json upstreams = nlohmann::ordered_json::object();
  for (size_t upstream = 0; upstream < layout.upstreams.size(); ++upstream) {
    nlohmann::ordered_json servers = nlohmann::ordered_json::array();
    for (size_t server = layout.firstServer[upstream];
         server < layout.servers.size() && layout.servers[server].upstream == upstream; ++server) {
      // The latest news of any worker: the server is up when its last connect succeeded.
      const uint64_t lastUp = cells[layout.serverLastUp + server];
      const uint64_t lastDown = cells[layout.serverLastDown + server];
      const char* state = lastUp == 0 && lastDown == 0 ? "unknown"
                          : lastUp >= lastDown         ? "up"
                                                       : "down";
      servers.push_back({{"address", layout.servers[server].text},
                         {"state", state},
                         {"last_connected", timeOrNull(lastUp)},
                         {"last_failed", timeOrNull(lastDown)},
                         {"checks_failing", cells[layout.serverCheckedDown + server] != 0},
                         {"ejections", cells[layout.serverEjections + server]}});
    }
    upstreams[layout.upstreams[upstream]] = {{"servers", std::move(servers)}};
  }
  const int64_t now = observe::unixMillisecondsNow();
  nlohmann::ordered_json status = {
      {"version", HOPLITE_VERSION},
      {"uptime_seconds", seconds(now - sources_.startUnixMs)},
      {"config_file", sources_.configPath},
      {"config_generation", generations_.number()},
      {"config_loaded", timeOrNull(static_cast<uint64_t>(generations_.loadedUnixMs()))},
      {"workers", sources_.workerCount ? sources_.workerCount() : sources_.workers},
      {"draining", sources_.draining()},
      {"connections_open", connectionsOpen},
      {"tunnels_open", tunnelsOpen},
      {"upstreams", std::move(upstreams)},
  };
  if (sources_.workerGenerations) {
    nlohmann::ordered_json workers = nlohmann::ordered_json::array();
    for (const auto& worker : sources_.workerGenerations()) {
      workers.push_back({{"worker", worker.number},
                         {"pid", worker.pid},
                         {"config_generation", worker.generation},
                         {"config_loaded", timeOrNull(worker.loadedUnixMs)}});
    }
    status["worker_generations"] = std::move(workers);
  }
  // Replace invalid UTF-8 rather than throw: config text is checked, but never crash on it.
  return status.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace hoplite::proxy::admin
