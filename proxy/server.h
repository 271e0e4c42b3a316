// The per-loop state of hoplite: listeners, the connection cap, upstream pools, counters, signals
// and the shutdown drain. Everything one event loop needs lives here (no globals), so that several
// workers can later each run their own Server.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "conf/config.h"
#include "conf/config_loader.h"
#include "proxy/admin/admin_listener.h"
#include "proxy/buffer_pool.h"
#include "proxy/client_connection.h"
#include "proxy/counters.h"
#include "proxy/generation.h"
#include "proxy/heap_trimmer.h"
#include "proxy/idle_sweeper.h"
#include "proxy/observe/access_log.h"
#include "proxy/observe/generations.h"
#include "proxy/observe/metrics_table.h"
#include "proxy/observe/worker_metrics.h"
#include "proxy/read_batch.h"
#include "proxy/reload.h"
#include "proxy/request_id_source.h"
#include "proxy/timer.h"
#include "proxy/upstream/health_checker.h"
#include "proxy/upstream/upstream_pool.h"

namespace hoplite::proxy {

// Where a Server counts: its slot of the metrics table, and this process's config generations
// (whose current layout is the Server's first generation's).
struct ServerMetrics {
  observe::MetricsTable& table;
  size_t slot = 0;
  observe::Generations& generations;
};

class Server {
 public:
  // `config`: generation 1. `inheritedListeners`: for a worker (proxy/supervisor.h), the
  // listening sockets its supervisor bound, one per `listen` address in order. Empty for a single
  // process, which binds its own. `admin`: what the admin listener (admin.listen) reports, for a
  // single process; null in a worker (its supervisor serves it).
  Server(uv_loop_t* loop, std::shared_ptr<const conf::Config> config, ServerMetrics metrics,
         std::vector<int> inheritedListeners = {}, const admin::AdminState* admin = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on every `listen` address, printing "hoplite: listening on ADDR" for each
  // and then "hoplite: ready" to stderr (and READY=1 to a service manager); installs the
  // SIGTERM/SIGINT handlers. A worker instead serves on its inherited sockets, prints nothing
  // (its supervisor did) and watches SIGTERM and kForceStopSignal. False (after logging why)
  // when a listener cannot be set up; the caller then runs the loop to let the handles close and
  // exits non-zero.
  bool start();
  // The drain: stops accepting, closes idle connections, lets the rest finish, and force-closes
  // what remains after shutdown_drain. Ends the shutdown_delay if it is still running. uv_run
  // returns once everything is closed. Idempotent.
  void beginShutdown();

  // SIGHUP from now on reloads the config from `configPath` (Server::reload). A single process
  // only: a worker ignores SIGHUP (its supervisor owns the config).
  void enableReload(std::string configPath) { configPath_ = std::move(configPath); }
  // In worker `number`: SIGHUP (from the supervisor, which validated the config first) applies
  // the snapshot in `snapshotFd` (proxy/reload.h).
  // `report` tells the supervisor the outcome (a kReloadedPrefix or kReloadFailedPrefix line).
  void enableWorkerReload(int snapshotFd, uint32_t number,
                          std::function<void(std::string_view)> report) {
    snapshotFd_ = snapshotFd;
    worker_ = number;
    reportReload_ = std::move(report);
  }

  uv_loop_t* loop() const { return loop_; }
  // The current generation: what a request whose head completes now is served with.
  const std::shared_ptr<Generation>& generation() const { return generation_; }
  const conf::Config& config() const { return *generation_->config; }
  Counters& counters() { return generation_->metrics.counters(); }
  // The bound address of each listener ("127.0.0.1:8080"), in `listen` order.
  std::vector<std::string> listenerTexts() const;
  RequestIdSource& requestIds() { return requestIds_; }
  // The access log (log.access); enabled() is false with "off".
  observe::AccessLog& accessLog() { return accessLog_; }
  const Counters& counters() const { return generation_->metrics.counters(); }
  // True from the first stop signal on, through timeouts.shutdown_delay (while everything still
  // serves as usual) and the drain: what the admin /healthz reports as "draining".
  bool stopping() const { return stopping_; }
  // True once the drain has begun (beginShutdown): the listeners are closed and every response
  // still in flight carries Connection: close. Without a shutdown_delay, from the first signal.
  bool draining() const { return draining_; }
  // HOPLITE_DEBUG=1 in the environment logs why each connection closed (off by default: no
  // per-request logging).
  bool debugLog() const { return debugLog_; }
  // Read buffers for every Socket of this loop; declared first so that it outlives them all.
  BufferPool& buffers() { return buffers_; }
  ReadBatch& readBatch() { return readBatch_; }
  // The one timer behind every tunnel's tunnel_idle.
  IdleSweeper& idleSweeper() { return idleSweeper_; }

  // Every Session and Tunnel registers on creation and unregisters in its destructor.
  void registerConnection(ClientConnection* connection);
  void unregisterConnection(ClientConnection* connection);
  // A client socket accepted by listener `listener` (its index in the layout of `metrics`, the
  // generation the connection counts in) was closed: one slot below max_connections is free
  // again.
  void onClientClosed(observe::WorkerMetrics& metrics, size_t listener);

 private:
  struct Listener {
    uv_tcp_t handle;
    Server* server = nullptr;
    std::string shown;  // "127.0.0.1:8080" as the config wrote it, for logs
    bool open = false;
    bool acceptPending = false;  // a connection waits while we are at max_connections
    uint16_t port = 0;           // the bound port (read back once: the config may say 0)
    size_t index = 0;            // in the current `listen` order: the metrics' listener label
    conf::HostPort address;      // as the config wrote it (a reload keeps a listener it names)
  };

  bool startListener(const conf::HostPort& address, bool ipv6Only);
  // Binds `listener` to `address` and listens; false after logging why.
  bool bindListener(Listener& listener, const conf::HostPort& address, bool ipv6Only);
  // A listener handle not yet in listeners_.
  std::unique_ptr<Listener> newListener();
  // Closes a listener that a reload removed (or failed to add); freed in its close callback.
  void retireListener(std::unique_ptr<Listener> listener);
  static void onRetiredListenerClosed(uv_handle_t* handle);
  bool startInheritedListener(int fd);
  // Makes `listener` accept (and read back its port); false after logging why.
  bool listenOn(Listener& listener, const std::string& shown);
  Listener& addListener();
  static void onConnection(uv_stream_t* stream, int status);
  void acceptOne(Listener& listener);
  static void onSignal(uv_signal_t* handle, int signum);
  // The first SIGTERM or SIGINT: stopping() from now on; the drain begins after
  // timeouts.shutdown_delay, or at once when it is off.
  void requestStop(int signum);
  // STOPPING=1 or STATUS= to a service manager, unless this is a worker.
  void notifyStoppingIfMain(std::string_view status) const;
  void notifyStatusIfMain(std::string_view status) const;
  // kReopenLogsSignal: the log files are opened again by name (after logrotate renamed them).
  static void onReopenSignal(uv_signal_t* handle, int signum);
  static void onReloadSignal(uv_signal_t* handle, int signum);
  // SIGHUP in a single process (server_reload.cc): reads the config file and applies it, counting
  // the result and telling a service manager.
  void reload();
  // SIGHUP in a worker: applies its supervisor's snapshot.
  void reloadFromSupervisor();
  // With any error in `loaded`, a change that needs a restart, or a listener that cannot be
  // bound: logs why and changes nothing. Otherwise binds the added listeners, closes the removed
  // ones, and makes the new config the current generation: requests whose head completes from
  // now on use it; exchanges in flight and tunnels keep theirs. Upstream pools whose settings did
  // not change are kept. `snapshot`: in a worker, the generation number and metric cells its
  // supervisor chose. False when the running config stays.
  bool applyReload(conf::LoadResult loaded, const ConfigSnapshot* snapshot);
  void logReload(const std::string& line) const;
  // The health checks of upstream `upstream` (a pool of the current generation) report here,
  // into the current generation's metrics (hoplite_upstream_server_up).
  HealthChecker::VerdictListener verdictListener(const std::string& upstream);
  void publishVerdict(const std::string& upstream, size_t server, policy::HealthVerdict verdict);
  void onDrainTimeout();
  // Once per kTrimPeriod: the read buffers and the idle upstream connections that the loop did
  // not use in the whole period are freed or closed (BufferPool, UpstreamPool::trimSurplus).
  void trimSurplus();
  void finishShutdownIfDone();
  static void onHandleClosed(uv_handle_t* handle);

  uv_loop_t* loop_;
  BufferPool buffers_;
  ReadBatch readBatch_;
  ServerMetrics metricsHome_;
  std::shared_ptr<Generation> generation_;
  RequestIdSource requestIds_;
  std::vector<std::unique_ptr<Listener>> listeners_;         // in the current `listen` order
  std::vector<std::unique_ptr<Listener>> retiredListeners_;  // closing
  std::unordered_set<ClientConnection*> connections_;
  uint64_t openClients_ = 0;
  std::vector<int> inheritedListeners_;
  uv_signal_t drainSignal_;   // SIGTERM
  uv_signal_t secondSignal_;  // SIGINT; a worker's kForceStopSignal
  uv_signal_t reopenSignal_;  // kReopenLogsSignal (SIGUSR1)
  uv_signal_t reloadSignal_;  // SIGHUP
  std::string configPath_;    // what SIGHUP reloads; empty in a worker
  int snapshotFd_ = -1;       // a worker's: its supervisor's validated config
  uint32_t worker_ = 0;       // a worker's number, for its log lines
  std::function<void(std::string_view)> reportReload_;
  std::string lastStatus_;  // the last STATUS= sent while serving
  uv_timer_t drainTimer_;
  bool debugLog_ = false;  // before the members whose constructors read it
  IdleSweeper idleSweeper_;
  HeapTrimmer heapTrimmer_;
  static constexpr std::chrono::milliseconds kTrimPeriod{1000};
  Timer surplusTimer_;
  // timeouts.shutdown_delay, from the first stop signal to the drain. Closed by beginShutdown,
  // whether the delay ran out or a second signal (or a failed start) came first.
  Timer delayTimer_;
  observe::AccessLog accessLog_;
  const admin::AdminState* adminState_;
  std::unique_ptr<admin::AdminListener> admin_;
  bool stopping_ = false;  // from the first stop signal on
  bool draining_ = false;  // from beginShutdown on
  bool finished_ = false;
};

}  // namespace hoplite::proxy
