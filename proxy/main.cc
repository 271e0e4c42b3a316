// hoplite's entry point: parses the command line, loads the config, and runs or checks it.
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "conf/command_line.h"
#include "conf/config_loader.h"
#include "policy/upgrade.h"
#include "proxy/admin/admin_state.h"
#include "proxy/observe/error_log.h"
#include "proxy/observe/exchange_record.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/observe/metrics_table.h"
#include "proxy/server.h"
#include "proxy/supervisor.h"

namespace {

// One whole line to the supervisor. A failed write is only logged: the supervisor then says that
// this worker did not report, and the worker goes on serving or exiting as it would.
void sendToSupervisor(const hoplite::proxy::WorkerRole& role, std::string_view line) {
  ssize_t written;
  do {
    written = ::write(role.reportPipe, line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  if (written != static_cast<ssize_t>(line.size())) {
    std::fprintf(stderr, "hoplite: worker %u: cannot report to the supervisor: %s\n", role.number,
                 written < 0 ? std::strerror(errno) : "short write");
  }
}

// Runs one Server on one loop until its shutdown drain has closed every handle: the whole proxy,
// or one worker of a supervisor (`role`), counting into its slot of `metrics`. A single process
// serves the admin listener itself (`runtime` says what /status and /metrics report); a
// supervisor serves it for its workers. Returns the process exit code.
int runProxy(std::shared_ptr<const hoplite::conf::Config> config,
             const hoplite::proxy::WorkerRole* role, hoplite::proxy::RuntimeInfo& runtime) {
  using hoplite::proxy::admin::AdminState;
  // OpenSSL's config and SHA-1 are loaded now, not during the first WebSocket handshake.
  hoplite::policy::prepareWebSocketAccept();
  uv_loop_t loop;
  if (const int rc = uv_loop_init(&loop); rc != 0) {
    std::fprintf(stderr, "hoplite: cannot create the event loop: %s\n", uv_strerror(rc));
    return 1;
  }
  int exitCode = 0;
  {
    const size_t slot = role != nullptr ? role->slot : 0;
    hoplite::proxy::Server* running = nullptr;
    AdminState::Sources sources{runtime.configPath, runtime.startUnixMs, 1,
                                [] { return std::vector<pid_t>{::getpid()}; },
                                [&running] { return running != nullptr && running->stopping(); }};
    const AdminState admin(runtime.generations, runtime.metrics, std::move(sources));
    hoplite::proxy::Server server(&loop, std::move(config),
                                  {runtime.metrics, slot, runtime.generations},
                                  role != nullptr ? role->listenSockets : std::vector<int>{},
                                  role != nullptr ? nullptr : &admin);
    running = &server;
    if (role == nullptr) {
      server.enableReload(runtime.configPath);
    } else {
      server.enableWorkerReload(role->snapshotFd, role->number,
                                [role](std::string_view line) { sendToSupervisor(*role, line); });
    }
    // A worker a reload started may count in a slot a retired worker used: what it reports at
    // exit is what it counted itself.
    const hoplite::proxy::Counters inherited = server.counters();
    if (!server.start()) exitCode = 1;
    // The listener labels are the bound addresses (the kernel's port for a port 0).
    if (role == nullptr && exitCode == 0) runtime.firstLayout->listeners = server.listenerTexts();
    if (role != nullptr) {
      // The SIGTERM handler is in place: a stop that came while starting is delivered now.
      sigprocmask(SIG_SETMASK, &role->signalMaskAfterStart, nullptr);
      if (exitCode == 0) sendToSupervisor(*role, hoplite::proxy::kReadyLine);
      if (exitCode == 0 && role->startedForGeneration != 0) {
        sendToSupervisor(*role, std::string(hoplite::proxy::kReloadedPrefix) +
                                    std::to_string(role->startedForGeneration) + " " +
                                    std::to_string(role->number) + "\n");
      }
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    const std::string who =
        role != nullptr ? "worker " + std::to_string(role->number) + ": " : std::string();
    const hoplite::proxy::Counters own = server.counters().since(inherited);
    std::fprintf(stderr, "hoplite: %scounters: %s\n", who.c_str(), own.toText().c_str());
    std::fflush(stderr);
    if (role != nullptr) {
      sendToSupervisor(*role, hoplite::proxy::counterLine(own));
      ::close(role->reportPipe);
    }
  }
  if (const int rc = uv_loop_close(&loop); rc != 0) {
    std::fprintf(stderr, "hoplite: handles left open at exit: %s\n", uv_strerror(rc));
    exitCode = exitCode == 0 ? 1 : exitCode;
  }
  return exitCode;
}

}  // namespace

int main(int argc, char** argv) {
  // Before the config is read, so that /status's start_time is never after its config_loaded.
  const int64_t startUnixMs = hoplite::proxy::observe::unixMillisecondsNow();
  using hoplite::conf::CommandLine;
  const CommandLine cli =
      hoplite::conf::parseCommandLine(std::vector<std::string>(argv + 1, argv + argc));
  switch (cli.action) {
    case CommandLine::Action::Help:
      std::fputs(hoplite::conf::usageText().c_str(), stdout);
      return 0;
    case CommandLine::Action::Version:
      std::printf("hoplite %s\n", HOPLITE_VERSION);
      return 0;
    case CommandLine::Action::Invalid:
      std::fprintf(stderr, "hoplite: %s\n%s", cli.error.c_str(),
                   hoplite::conf::usageText().c_str());
      return 2;
    case CommandLine::Action::Check:
    case CommandLine::Action::Run:
      break;
  }
  const hoplite::conf::LoadResult loaded = hoplite::conf::loadConfigFile(cli.configPath);
  for (const auto& error : loaded.errors) {
    std::fprintf(stderr, "hoplite: %s: %s\n", cli.configPath.c_str(), error.toText().c_str());
  }
  if (!loaded.config) return 2;
  if (cli.action == CommandLine::Action::Check) {
    std::printf("hoplite: %s is valid\n", cli.configPath.c_str());
    return 0;
  }
  const int64_t loadedUnixMs = hoplite::proxy::observe::unixMillisecondsNow();
  std::string errorLogProblem;
  if (!hoplite::proxy::observe::openErrorLog(loaded.config->log.errors, errorLogProblem)) {
    std::fprintf(stderr, "hoplite: cannot open the error log (/log/errors) %s\n",
                 errorLogProblem.c_str());
    return 1;
  }
  // A peer that resets while we write must be an error code, not a fatal signal.
  std::signal(SIGPIPE, SIG_IGN);
  // Mapped before any fork, so that every worker counts into the same table.
  auto layout = std::make_shared<hoplite::proxy::observe::MetricLayout>(*loaded.config);
  const std::unique_ptr<hoplite::proxy::observe::MetricsTable> metrics =
      hoplite::proxy::observe::MetricsTable::create(
          loaded.config->workers, layout->cellCount,
          hoplite::proxy::observe::MetricsTable::kCellCapacity,
          // With workers, room for those a reload may start (each slot is address space only
          // until a worker uses it).
          loaded.config->workers > 1 ? hoplite::proxy::reservedWorkerSlots(loaded.config->workers)
                                     : 0);
  if (!metrics) return 1;
  hoplite::proxy::observe::Generations generations(layout, loadedUnixMs);
  hoplite::proxy::RuntimeInfo runtime{layout, generations, *metrics, cli.configPath, startUnixMs};
  auto config = std::make_shared<const hoplite::conf::Config>(std::move(*loaded.config));
  if (config->workers == 1) return runProxy(config, nullptr, runtime);
  return hoplite::proxy::runSupervisor(
      *config, runtime,
      [&runtime](const hoplite::conf::Config& share, const hoplite::proxy::WorkerRole& role) {
        return runProxy(std::make_shared<const hoplite::conf::Config>(share), &role, runtime);
      });
}
