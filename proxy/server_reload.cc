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

namespace hoplite::proxy {

namespace {

// What a reload cannot change in a running process, each with the key that names it; empty when
// `next` changes none of it.
std::string needsRestart(const conf::Config& running, const conf::Config& next) {
  if (next.workers != running.workers) {
    return "/workers: changing the number of workers needs a restart";
  }
  if (next.admin != running.admin) return "/admin/listen: changing it needs a restart";
  if (next.log.access != running.log.access) return "/log/access: changing it needs a restart";
  if (next.log.errors != running.log.errors) return "/log/errors: changing it needs a restart";
  return {};
}

void logReload(const std::string& line) {
  std::fprintf(stderr, "hoplite: reload: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace

void Server::onReloadSignal(uv_signal_t* handle, int /*signum*/) {
  Server& server = *static_cast<Server*>(handle->data);
  if (server.configPath_.empty()) return;  // a worker: its supervisor owns the config
  server.reload();
}

void Server::reload() {
  observe::Generations& generations = metricsHome_.generations;
  notifyReloading("reloading " + configPath_);
  if (applyReload()) {
    ++generations.reloadsOk;
    logReload(configPath_ + ": generation " + std::to_string(generations.number()) + " serving");
  } else {
    ++generations.reloadsFailed;
    logReload("failed; generation " + std::to_string(generations.number()) +
              " goes on serving, unchanged");
  }
  notifyReady(servingStatus(listenerTexts()));
}

bool Server::applyReload() {
  if (stopping_) {
    logReload("hoplite is shutting down");
    return false;
  }
  conf::LoadResult loaded = conf::loadConfigFile(configPath_);
  for (const conf::ConfigError& error : loaded.errors) {
    // As `hoplite --check` prints them.
    logReload(configPath_ + ": " + error.toText());
  }
  if (!loaded.config) return false;
  const conf::Config& next = *loaded.config;
  if (const std::string why = needsRestart(config(), next); !why.empty()) {
    logReload(configPath_ + ": " + why);
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
    logReload(configPath_ + ": a listener could not be bound (above)");
    return false;
  }
  std::vector<std::string> labels;
  for (size_t i = 0; i < next.listen.size(); ++i) {
    labels.push_back(kept[i] ? kept[i]->shown : listeners_[source[i]]->shown);
  }
  observe::Generations& generations = metricsHome_.generations;
  std::string problem;
  std::shared_ptr<observe::MetricLayout> layout =
      generations.layoutFor(next, labels, metricsHome_.table.capacity(), problem);
  if (!layout) {
    undoBinds();
    logReload(configPath_ + ": " + problem);
    return false;
  }

  // Certain from here on.
  if (layout->base != generations.layout().base) {
    metricsHome_.table.prepare(metricsHome_.slot, layout->base, layout->cellCount);
  }
  generations.adopt(layout, observe::unixMillisecondsNow());
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
      generation->pools.emplace(name, std::make_shared<UpstreamPool>(named));
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

  // Idle keep-alive connections move to the new generation now (or close, when their listener
  // went); the others when their exchange ends.
  const std::vector<ClientConnection*> snapshot(connections_.begin(), connections_.end());
  for (ClientConnection* connection : snapshot) connection->reloaded();
  return true;
}

}  // namespace hoplite::proxy
