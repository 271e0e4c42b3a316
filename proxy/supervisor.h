// The supervisor of a multi-worker hoplite ("workers" > 1): binds the listeners, forks the
// workers, prints "ready" once all of them serve, passes stop requests on, and exits when the
// last worker has, printing the sum of their counters. It runs no proxy code itself.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"
#include "proxy/counters.h"
#include "proxy/observe/generations.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/observe/metrics_table.h"

namespace hoplite::proxy {

// What the running hoplite knows of itself, shared by the supervisor and (through fork) its
// workers: the metrics table mapped before the first fork and its layout, the config file and
// when it was loaded, and when the process started.
struct RuntimeInfo {
  // Generation 1's layout, whose listener labels are set once the listeners are bound (the
  // kernel's port for a port 0); `generations` holds it as the current layout.
  std::shared_ptr<observe::MetricLayout> firstLayout;
  observe::Generations& generations;
  observe::MetricsTable& metrics;
  std::string configPath;
  int64_t startUnixMs = 0;
};

// What a forked worker gets from its supervisor.
struct WorkerRole {
  uint32_t number = 0;             // 1-based, for log lines; never reused
  size_t slot = 0;                 // its slot of the metrics table (a retired worker's, reused)
  std::vector<int> listenSockets;  // listening already, one per `listen` address, in order
  // Lines to the supervisor (kReadyLine once serving, then counterLine at exit), each written
  // whole in one write, which a pipe keeps in one piece; closed at exit.
  int reportPipe = -1;
  // The supervisor's config snapshots (proxy/reload.h): on SIGHUP, the worker applies the one in
  // it.
  int snapshotFd = -1;
  // SIGTERM, kForceStopSignal, kReopenLogsSignal and SIGHUP stay blocked from the fork until the
  // worker's own handlers are
  // installed, so that a stop sent while it starts waits for it instead of killing it; this mask
  // is restored then.
  sigset_t signalMaskAfterStart{};
  // A worker a reload started: the generation it starts on, which it reports (kReloadedPrefix)
  // once it serves. 0 for the workers started with the supervisor.
  uint64_t startedForGeneration = 0;
};

// What a worker writes to its report pipe.
inline constexpr std::string_view kReadyLine = "ready\n";
// After a SIGHUP: "reloaded <generation> <worker>\n" once the worker applied its supervisor's
// snapshot, "reload-failed <generation> <worker>\n" when it could not.
inline constexpr std::string_view kReloadedPrefix = "reloaded ";
inline constexpr std::string_view kReloadFailedPrefix = "reload-failed ";
std::string counterLine(const Counters& counters);

// A worker's signals from its supervisor: SIGTERM drains (repeats are the same request, e.g. the
// supervisor's and a service manager's); kForceStopSignal closes what remains at once. SIGUSR2,
// because SIGUSR1 is the operator's: kReopenLogsSignal reopens the log files (logrotate's
// postrotate, as with nginx), and the supervisor passes it on to every worker.
constexpr int kForceStopSignal = SIGUSR2;
constexpr int kReopenLogsSignal = SIGUSR1;

// Serves as one worker on `config` (its share of max_connections applied) and returns the
// process's exit code.
using ServeAsWorker = std::function<int(const conf::Config& config, const WorkerRole& role)>;

// Returns the exit code for main in the supervisor, and in each forked worker the code `serve`
// returned (the worker's main then returns it, so it exits through the normal path).
// The supervisor serves the admin listener (admin.listen) for all of them: it reads the workers'
// slots of `runtime.metrics`, and its /healthz says "draining" from its SIGTERM on.
int runSupervisor(const conf::Config& config, RuntimeInfo& runtime, const ServeAsWorker& serve);

// The metrics slots a supervisor maps at start for `workers`: room for reloads that start more
// workers (4 times as many, at least 16, at most conf::kMaxWorkers), draining ones included.
size_t reservedWorkerSlots(uint32_t workers);

// Each worker's share of a whole-process limit, rounded up so the shares add up to at least it.
uint64_t workerShare(uint64_t total, uint32_t workers);

}  // namespace hoplite::proxy
