// Server::reload: SIGHUP applies a new config inside the running process, without closing
// anything that is open (docs: README.md, "Running it"; conf/README.md, "Reload").
#include <cstdio>
#include <string>
#include <vector>

#include "conf/config_loader.h"
#include "conf/host_port.h"
#include "proxy/observe/exchange_record.h"
#include "proxy/server.h"
#include "proxy/service_notify.h"
#include "proxy/supervisor.h"
#include "proxy/upstream/health_checker.h"

namespace hoplite::proxy {

void Server::logReload(const std::string& line) const {
  const std::string who = worker_ != 0 ? "worker " + std::to_string(worker_) + ": " : "";
  std::fprintf(stderr, "hoplite: %sreload: %s\n", who.c_str(), line.c_str());
  std::fflush(stderr);
}

void Server::onReloadSignal(uv_signal_t* handle, int /*signum*/) {
  Server& server = *static_cast<Server*>(handle->data);
  if (!server.configPath_.empty()) {
    server.reload();
  } else if (server.snapshotFd_ >= 0) {
    server.reloadFromSupervisor();
  }
}

void Server::reload() {
  observe::Generations& generations = metricsHome_.generations;
  notifyReloading("reloading " + configPath_);
  if (applyReload(conf::loadConfigFile(configPath_), nullptr)) {
    ++generations.reloadsOk;
    logReload(configPath_ + ": generation " + std::to_string(generations.number()) + " serving");
  } else {
    ++generations.reloadsFailed;
    logReload("failed; generation " + std::to_string(generations.number()) +
              " goes on serving, unchanged");
  }
  notifyReady(servingStatus(listenerTexts()));
}

void Server::reloadFromSupervisor() {
  std::string error;
  const std::optional<ConfigSnapshot> snapshot = readSnapshot(snapshotFd_, error);
  if (!snapshot) {
    logReload("cannot read the supervisor's config: " + error);
    if (reportReload_) {
      reportReload_(std::string(kReloadFailedPrefix) + "0 " + std::to_string(worker_) + "\n");
    }
    return;
  }
  // Two SIGHUPs that came together find the same (latest) snapshot: it is applied once.
  if (snapshot->generation == generation_->number) return;
  conf::LoadResult loaded = conf::parseConfig(snapshot->text, "the supervisor's config");
  if (loaded.config) {
    conf::Limits& limits = loaded.config->limits;
    limits.maxConnections = workerShare(limits.maxConnections, loaded.config->workers);
  }
  // The supervisor validated it and logs the outcome: only a worker that could not follow says
  // so (it goes on with the config it has).
  const std::string number = std::to_string(snapshot->generation);
  // Appended rather than " " + ...: GCC 12 reports a false -Wrestrict on that (bug 105329).
  std::string who(1, ' ');
  who += std::to_string(worker_);
  if (!applyReload(std::move(loaded), &*snapshot)) {
    logReload("generation " + number +
              " could not be applied here; this worker goes on with generation " +
              std::to_string(generation_->number));
    if (reportReload_) reportReload_(std::string(kReloadFailedPrefix) + number + who + "\n");
    return;
  }
  if (reportReload_) reportReload_(std::string(kReloadedPrefix) + number + who + "\n");
}

bool Server::applyReload(conf::LoadResult loaded, const ConfigSnapshot* snapshot) {
  const std::string origin = snapshot != nullptr ? "the supervisor's config" : configPath_;
  if (stopping_) {
    logReload("hoplite is shutting down");
    return false;
  }
  for (const conf::ConfigError& error : loaded.errors) {
    // As `hoplite --check` prints them.
    logReload(origin + ": " + error.toText());
  }
  if (!loaded.config) return false;
  const conf::Config& next = *loaded.config;
  if (const std::string why = reloadNeedsRestart(config(), next, snapshot != nullptr);
      !why.empty()) {
    logReload(origin + ": " + why);
    return false;
  }

  // Listeners: an address the new config still names keeps its socket (nothing is refused while
  // reloading); a new one is bound now, and any bind failure leaves everything as it was.
  std::vector<std::unique_ptr<Listener>> kept(next.listen.size());    // the newly bound ones
  std::vector<size_t> source(next.listen.size(), listeners_.size());  // listeners_ index or none
  std::vector<bool> taken(listeners_.size(), false);
  bool bound = true;
  for (size_t i = 0; i < next.listen.size(); ++i) {
    for (size_t old = 0; old < listeners_.size(); ++old) {
      if (!taken[old] && listeners_[old]->open && listeners_[old]->address == next.listen[i]) {
        taken[old] = true;
        source[i] = old;
        break;
      }
    }
    if (source[i] != listeners_.size()) continue;
    std::unique_ptr<Listener> listener = newListener();
    if (!bindListener(*listener, next.listen[i], conf::listensIpv6Only(next.listen, i))) {
      retireListener(std::move(listener));
      bound = false;
      break;
    }
    kept[i] = std::move(listener);
  }
  const auto undoBinds = [this, &kept] {
    for (auto& listener : kept) {
      if (listener) retireListener(std::move(listener));
    }
  };
  if (!bound) {
    undoBinds();
    logReload(origin + ": a listener could not be bound (above)");
    return false;
  }
  std::vector<std::string> labels;
  for (size_t i = 0; i < next.listen.size(); ++i) {
    labels.push_back(kept[i] ? kept[i]->shown : listeners_[source[i]]->shown);
  }
  observe::Generations& generations = metricsHome_.generations;
  std::string problem;
  std::shared_ptr<observe::MetricLayout> layout;
  if (snapshot != nullptr) {
    layout = std::make_shared<observe::MetricLayout>(next, snapshot->firstCell);
    layout->listeners = labels;
    if (layout->cellCount > metricsHome_.table.capacity()) {
      layout = nullptr;
      problem = "the metrics table is full";
    }
  } else {
    layout = generations.layoutFor(next, labels, metricsHome_.table.capacity(), problem);
  }
  if (!layout) {
    undoBinds();
    logReload(origin + ": " + problem);
    return false;
  }

  // Certain from here on.
  if (layout->base != generations.layout().base) {
    metricsHome_.table.prepare(metricsHome_.slot, layout->base, layout->cellCount);
  }
  generations.adopt(layout, observe::unixMillisecondsNow(),
                    snapshot != nullptr ? snapshot->generation : 0);
  auto generation = std::make_shared<Generation>(
      generations.number(), std::make_shared<const conf::Config>(std::move(*loaded.config)),
      std::move(layout), metricsHome_.table.counters(metricsHome_.slot),
      metricsHome_.table.cells(metricsHome_.slot));
  const conf::Config& now = *generation->config;
  for (const auto& [name, upstream] : now.upstreams) {
    conf::Upstream named = upstream;
    named.name = name;
    const auto old = generation_->pools.find(name);
    if (old != generation_->pools.end() && old->second->settings() == named) {
      generation->pools.emplace(name, old->second);  // its idle connections and failure marks
    } else {
      auto pool = std::make_shared<UpstreamPool>(named);
      HealthChecker::start(loop_, buffers_, readBatch_, *pool, verdictListener(name));
      generation->pools.emplace(name, std::move(pool));
    }
  }
  for (const auto& [name, pool] : generation_->pools) {
    const auto carried = generation->pools.find(name);
    // Its idle connections close now; those in use close when their exchange ends.
    if (carried == generation->pools.end() || carried->second != pool) pool->closeAll();
  }

  std::vector<std::unique_ptr<Listener>> listeners;
  for (size_t i = 0; i < now.listen.size(); ++i) {
    listeners.push_back(kept[i] ? std::move(kept[i]) : std::move(listeners_[source[i]]));
    listeners.back()->index = i;
  }
  for (auto& removed : listeners_) {
    if (removed) retireListener(std::move(removed));
  }
  listeners_ = std::move(listeners);
  generation_ = std::move(generation);
  // A kept pool's checks go on: their verdicts are written again into this generation's cells.
  for (const auto& [name, pool] : generation_->pools) {
    for (size_t server = 0; server < pool->serverCount(); ++server) {
      if (pool->verdict(server) == policy::HealthVerdict::Down) {
        publishVerdict(name, server, policy::HealthVerdict::Down);
      }
    }
  }

  // Idle keep-alive connections move to the new generation now (or close, when their listener
  // went); the others when their exchange ends.
  const std::vector<ClientConnection*> open(connections_.begin(), connections_.end());
  for (ClientConnection* connection : open) connection->reloaded();
  return true;
}

}  // namespace hoplite::proxy
