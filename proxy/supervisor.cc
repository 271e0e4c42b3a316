#include "proxy/supervisor.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "conf/config_loader.h"
#include "conf/host_port.h"
#include "proxy/admin/admin_listener.h"
#include "proxy/admin/admin_state.h"
#include "proxy/observe/error_log.h"
#include "proxy/observe/exchange_record.h"
#include "proxy/reload.h"
#include "proxy/service_notify.h"
#include "proxy/stop_signal.h"
#include "proxy/worker_listeners.h"

namespace hoplite::proxy {

namespace {

constexpr std::string_view kCountersPrefix = "counters ";
// A report is one line of a few hundred bytes; anything longer is not one of ours.
constexpr size_t kMaxReportBytes = 4096;

struct Worker {
  pid_t pid = -1;  // -1 once reaped (or never started)
  uint32_t number = 0;
  size_t slot = 0;            // its slot of the metrics table
  uint64_t generation = 1;    // the config generation it last reported serving
  uint64_t loadedUnixMs = 0;  // when it reported it (its "ready" or "reloaded" line)
  bool retiring = false;      // a reload lowered "workers": it drains and exits, as on SIGTERM
};

// The signals the supervisor's loop watches, blocked around each fork (runSupervisor).
sigset_t watchedSignals() {
  sigset_t watched;
  sigemptyset(&watched);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGCHLD);
  // Inherited by the workers, and kept until their handlers are installed: a force stop sent
  // while a worker starts waits for it too, instead of killing it.
  sigaddset(&watched, kForceStopSignal);
  sigaddset(&watched, kReopenLogsSignal);
  sigaddset(&watched, SIGHUP);
  return watched;
}

// In a worker just forked: it must not outlive its supervisor, nor speak to the service
// manager. False when the supervisor died before the worker could notice.
bool detachFromSupervisor(pid_t supervisorPid) {
#ifdef __linux__
  // A supervisor killed outright must not leave workers serving on their own.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
  if (::getppid() != supervisorPid) return false;  // it died before prctl took effect
  // Only the supervisor speaks to a service manager (NotifyAccess=main).
  forgetNotifySocket();
  // A terminal's Ctrl-C goes to the whole process group; the supervisor passes it on.
  std::signal(SIGINT, SIG_IGN);
  return true;
}

// The supervisor's state while its loop runs: the workers, and why it is stopping.
class Supervisor {
 public:
  // `reportWriter`: the write end of the workers' report pipe, for the workers a reload starts.
  // `bound`: each listen address with its bound port, for their sockets.
  Supervisor(uv_loop_t* loop, const conf::Config& config, RuntimeInfo& runtime,
             const ServeAsWorker& serve, std::vector<Worker> workers, int reportPipe,
             int reportWriter, int snapshotFd, std::vector<conf::HostPort> bound)
      : loop_(loop),
        config_(config),
        current_(std::make_shared<const conf::Config>(config)),
        runtime_(runtime),
        serve_(serve),
        snapshotFd_(snapshotFd),
        reportWriter_(reportWriter),
        listeners_(runtime.firstLayout->listeners),
        bound_(std::move(bound)),
        workers_(std::move(workers)),
        initialWorkers_(workers_.size()),
        nextNumber_(static_cast<uint32_t>(workers_.size()) + 1),
        adminState_(runtime.generations, runtime.metrics,
                    admin::AdminState::Sources{runtime.configPath, runtime.startUnixMs,
                                               config.workers, [this] { return processes(); },
                                               [this] { return stopRequested_; },
                                               [this] { return workerGenerations(); },
                                               [this] { return activeWorkers(); }}),
        admin_(loop, adminState_) {
    // The workers started now were forked with the config generation 1 loaded.
    for (Worker& worker : workers_) {
      worker.loadedUnixMs = static_cast<uint64_t>(runtime.generations.loadedUnixMs());
    }
    uv_signal_init(loop, &sigterm_);
    uv_signal_init(loop, &sigint_);
    uv_signal_init(loop, &sigchld_);
    uv_signal_init(loop, &sigusr1_);
    uv_signal_init(loop, &sighup_);
    uv_timer_init(loop, &statusTimer_);
    statusTimer_.data = this;
    uv_pipe_init(loop, &reports_, 0);
    sigterm_.data = sigint_.data = sigchld_.data = sigusr1_.data = sighup_.data = reports_.data =
        this;
    uv_signal_start(&sigterm_, &Supervisor::onStopSignal, SIGTERM);
    uv_signal_start(&sigint_, &Supervisor::onStopSignal, SIGINT);
    uv_signal_start(&sigchld_, &Supervisor::onChildSignal, SIGCHLD);
    uv_signal_start(&sigusr1_, &Supervisor::onReopenSignal, kReopenLogsSignal);
    uv_signal_start(&sighup_, &Supervisor::onReloadSignal, SIGHUP);
    uv_timer_start(&statusTimer_, &Supervisor::onStatusTimer, kStatusPeriodMs, kStatusPeriodMs);
    uv_pipe_open(&reports_, reportPipe);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&reports_), &Supervisor::onAllocate,
                  &Supervisor::onReports);
  }

  // A fork failed: stop the workers already started and report failure.
  void abandon() {
    failed_ = true;
    stop(SIGTERM);
  }

  // Starts the admin listener when admin.listen is set; false after printing why.
  bool startAdmin() {
    if (!config_.admin.listen) return true;
    adminOpen_ = true;
    return admin_.start(*config_.admin.listen);
  }

  // Reaps workers that exited before the loop ran (their SIGCHLD may have come while blocked).
  void reapNow() { reap(); }

  int exitCode() const { return failed_ ? 1 : workerExitCode_; }

 private:
  static void onStopSignal(uv_signal_t* handle, int signum) {
    auto& self = *static_cast<Supervisor*>(handle->data);
    if (self.stopRequested_) {
      // A second request: do not wait for the drain.
      self.signalAll(kForceStopSignal);
      return;
    }
    // The workers apply timeouts.shutdown_delay themselves, each from its SIGTERM; /healthz here
    // says "draining" at once (stopRequested_).
    if (self.current_->timeouts.shutdownDelay) {
      std::fprintf(stderr, "hoplite: %s: %zu workers %s\n",
                   signum == SIGTERM ? "SIGTERM" : "SIGINT", self.running(),
                   stoppingStatus(self.current_->timeouts.shutdownDelay).c_str());
    } else {
      std::fprintf(stderr, "hoplite: %s: draining %zu workers\n",
                   signum == SIGTERM ? "SIGTERM" : "SIGINT", self.running());
    }
    self.stop(SIGTERM);
  }

  // Each worker has its own log files open (and its own standard error): each reopens them.
  static void onReopenSignal(uv_signal_t* handle, int signum) {
    auto& self = *static_cast<Supervisor*>(handle->data);
    std::string error;
    if (!observe::openErrorLog(self.config_.log.errors, error)) {
      std::fprintf(stderr,
                   "hoplite: cannot reopen the error log (/log/errors) %s; still writing to the "
                   "file open before\n",
                   error.c_str());
    }
    self.signalAll(signum);
  }

  // SIGHUP: the supervisor validates the config file exactly as a single process does, decides
  // the new generation's number and metric cells, writes it all to the snapshot file and signals
  // every worker, which applies that snapshot (Server::reloadFromSupervisor). It counts and logs
  // the result; a worker speaks only if it could not follow.
  static void onReloadSignal(uv_signal_t* handle, int /*signum*/) {
    auto& self = *static_cast<Supervisor*>(handle->data);
    observe::Generations& generations = self.runtime_.generations;
    const std::string& path = self.runtime_.configPath;
    notifyReloading("reloading " + path);
    if (self.reload()) {
      ++generations.reloadsOk;
      // "serving" (and READY=1) once every worker has said it applied it (onReloadReport).
      self.logReload(path + ": generation " + std::to_string(generations.number()) +
                     " validated; " + std::to_string(self.reloadsPending_) + " workers apply it");
      if (self.reloadsPending_ == 0) self.notifyServing();
    } else {
      ++generations.reloadsFailed;
      self.logReload("failed; generation " + std::to_string(generations.number()) +
                     " goes on serving, unchanged");
      self.notifyServing();
    }
  }

  // A worker's "reloaded <generation> <worker>" or "reload-failed <generation> <worker>".
  void onReloadReport(std::string_view line) {
    const bool ok = line.starts_with(kReloadedPrefix);
    const std::string rest(line.substr(ok ? kReloadedPrefix.size() : kReloadFailedPrefix.size()));
    unsigned long long number = 0;
    unsigned worker = 0;
    if (std::sscanf(rest.c_str(), "%llu %u", &number, &worker) != 2) {
      logReload("a worker sent a reload report the supervisor cannot read: " + rest);
      return;
    }
    const std::string generation = std::to_string(number);
    if (!ok) {
      logReload("worker " + std::to_string(worker) + " could not apply generation " + generation +
                " and goes on with the config it had (its log says why)");
    }
    for (Worker& each : workers_) {
      if (ok && each.number == worker) {
        each.generation = number;
        each.loadedUnixMs = static_cast<uint64_t>(observe::unixMillisecondsNow());
      }
    }
    // Only the latest reload's reports count towards "serving" (a worker that got two SIGHUPs
    // at once applies the latest snapshot once and reports it once).
    if (generation != std::to_string(runtime_.generations.number()) || reloadsPending_ == 0) {
      return;
    }
    if (--reloadsPending_ == 0) {
      logReload(runtime_.configPath + ": generation " + generation + " serving in " +
                std::to_string(activeWorkers()) + " workers");
      notifyServing();
    }
  }

  void notifyServing() {
    notifyReady(servingStatus(listeners_) + " with " + std::to_string(activeWorkers()) +
                " workers");
  }

  static void logReload(const std::string& line) {
    std::fprintf(stderr, "hoplite: reload: %s\n", line.c_str());
    std::fflush(stderr);
  }

  bool reload() {
    const std::string& path = runtime_.configPath;
    if (stopRequested_) {
      logReload("hoplite is shutting down");
      return false;
    }
    std::string text;
    conf::LoadResult loaded;
    if (!readConfigText(path, text)) {
      loaded = conf::loadConfigFile(path);  // the loader's own message for an unreadable file
    } else {
      loaded = conf::parseConfig(text, path);
    }
    for (const conf::ConfigError& error : loaded.errors) logReload(path + ": " + error.toText());
    if (!loaded.config) return false;
    const conf::Config& next = *loaded.config;
    if (const std::string why = reloadNeedsRestart(*current_, next, true); !why.empty()) {
      logReload(path + ": " + why);
      return false;
    }
    // Listeners: a kept address keeps its label and port; an added one must be free now, before
    // any worker changes anything (each worker then binds its own socket there).
    std::vector<std::string> labels;
    std::vector<conf::HostPort> bound;
    for (size_t i = 0; i < next.listen.size(); ++i) {
      const auto kept = std::find(current_->listen.begin(), current_->listen.end(), next.listen[i]);
      if (kept != current_->listen.end()) {
        const size_t old = static_cast<size_t>(kept - current_->listen.begin());
        labels.push_back(listeners_[old]);
        bound.push_back(bound_[old]);
        continue;
      }
      const std::string shown = addressAsWritten(next.listen[i]);
      if (const std::string why =
              probeListenAddress(next.listen[i], conf::listensIpv6Only(next.listen, i));
          !why.empty()) {
        logReload(path + ": /listen/" + std::to_string(i) + ": cannot listen on " + shown + ": " +
                  why);
        return false;
      }
      labels.push_back(shown);
      bound.push_back(next.listen[i]);
    }
    // Workers: those a raised count starts need free metric slots.
    const size_t active = activeWorkers();
    if (next.workers > active && next.workers - active > freeSlots()) {
      logReload(path + ": /workers: at most " + std::to_string(runtime_.metrics.reservedSlots()) +
                " workers can run at once for this start (4 times the workers it started with, "
                "at least 16), counting those still draining; " +
                std::to_string(next.workers) + " asked");
      return false;
    }
    observe::Generations& generations = runtime_.generations;
    std::string problem;
    std::shared_ptr<observe::MetricLayout> layout =
        generations.layoutFor(next, labels, runtime_.metrics.capacity(), problem);
    if (!layout) {
      logReload(path + ": " + problem);
      return false;
    }
    const ConfigSnapshot snapshot{generations.number() + 1, layout->base, text};
    if (!writeSnapshot(snapshotFd_, snapshot, problem)) {
      logReload("cannot hand the config to the workers: " + problem);
      return false;
    }
    generations.adopt(layout, observe::unixMillisecondsNow());
    current_ = std::make_shared<const conf::Config>(std::move(*loaded.config));
    listeners_ = std::move(labels);
    bound_ = std::move(bound);
    resizeWorkers(generations.number());
    return true;
  }

  // After a reload: the workers beyond the new count (the last started first) drain and exit as
  // on SIGTERM; the others apply the snapshot (SIGHUP); the missing ones are started on it.
  // Counts the workers whose report "serving" waits for.
  void resizeWorkers(uint64_t generation) {
    size_t active = activeWorkers();
    for (auto worker = workers_.rbegin(); worker != workers_.rend() && active > current_->workers;
         ++worker) {
      if (worker->pid <= 0 || worker->retiring) continue;
      worker->retiring = true;
      --active;
      logReload("worker " + std::to_string(worker->number) + " (pid " +
                std::to_string(worker->pid) + ") drains and exits: workers is now " +
                std::to_string(current_->workers));
      ::kill(worker->pid, SIGTERM);
    }
    reloadsPending_ = active;
    for (const Worker& worker : workers_) {
      if (worker.pid > 0 && !worker.retiring) ::kill(worker.pid, SIGHUP);
    }
    while (active < current_->workers) {
      if (!startWorker(generation)) break;
      ++active;
      ++reloadsPending_;
    }
  }

  size_t freeSlots() const {
    size_t busy = 0;
    for (const Worker& worker : workers_) busy += worker.pid > 0 ? 1 : 0;
    return runtime_.metrics.reservedSlots() - busy;
  }

  // A slot no running worker writes: a reaped worker's (its counts stay in the sums, which only
  // grow) or one never used.
  std::optional<size_t> takeSlot() {
    for (size_t slot = 0; slot < runtime_.metrics.slotCount(); ++slot) {
      bool busy = false;
      for (const Worker& worker : workers_) busy = busy || (worker.pid > 0 && worker.slot == slot);
      if (!busy) return slot;
    }
    return runtime_.metrics.addSlot(0);
  }

  // Starts one more worker on the current config from inside the loop. The child leaves the
  // supervisor's loop behind: it closes every socket and pipe that loop holds (the admin
  // listener and its connections, the report pipe's read end), which would otherwise stay open
  // as long as the worker, and gives the loop's kernel state its own copies (uv_loop_fork) so
  // that a signal to the worker never reaches the supervisor's loop. False after logging why.
  bool startWorker(uint64_t generation) {
    const std::optional<size_t> slot = takeSlot();
    if (!slot) {
      logReload("no metrics slot is free for another worker");
      return false;
    }
    std::optional<WorkerListeners> sockets = bindWorkerListeners(
        bound_, 1, static_cast<int>(current_->limits.listenBacklog), /*joinExisting=*/true);
    if (!sockets) return false;
    conf::Config share = *current_;
    share.limits.maxConnections = workerShare(current_->limits.maxConnections, current_->workers);
    const uint32_t number = nextNumber_++;
    const sigset_t watched = watchedSignals();
    sigset_t previous;
    sigprocmask(SIG_BLOCK, &watched, &previous);
    const pid_t supervisorPid = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (!detachFromSupervisor(supervisorPid)) std::_Exit(1);
      uv_loop_fork(loop_);
      uv_walk(
          loop_,
          [](uv_handle_t* handle, void*) {
            uv_os_fd_t fd;
            if (uv_fileno(handle, &fd) == 0) ::close(fd);
          },
          nullptr);
      const WorkerRole role{number,      *slot,    sockets->sockets[0], reportWriter_,
                            snapshotFd_, previous, generation};
      const int code = serve_(share, role);
      std::fflush(nullptr);
      std::exit(code);
    }
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    sockets->closeAllBut(-1);
    if (pid < 0) {
      logReload("cannot start worker " + std::to_string(number) + ": " + std::strerror(errno));
      return false;
    }
    workers_.push_back({pid, number, *slot, generation, 0, false});
    logReload("worker " + std::to_string(number) + ": pid " + std::to_string(pid) +
              ", started on generation " + std::to_string(generation));
    return true;
  }

  // The whole file, or false.
  static bool readConfigText(const std::string& path, std::string& text) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) return false;
    char chunk[65536];
    size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, file)) > 0) text.append(chunk, n);
    const bool ok = std::ferror(file) == 0;
    std::fclose(file);
    return ok;
  }

  // systemctl status shows what is open, summed over the workers, updated once a period.
  static void onStatusTimer(uv_timer_t* timer) {
    auto& self = *static_cast<Supervisor*>(timer->data);
    if (self.stopRequested_ || !self.startedReady_) return;
    const admin::AdminState::OpenCounts open = self.adminState_.openCounts();
    notifyStatusIfChanged(liveStatus(servingStatus(self.listeners_) + " with " +
                                         std::to_string(self.activeWorkers()) + " workers",
                                     open.connections, open.tunnels),
                          self.lastStatus_);
  }

  std::vector<admin::AdminState::Sources::WorkerGeneration> workerGenerations() const {
    std::vector<admin::AdminState::Sources::WorkerGeneration> out;
    for (const Worker& worker : workers_) {
      if (worker.pid > 0) {
        out.push_back({worker.number, worker.pid, worker.generation, worker.loadedUnixMs});
      }
    }
    return out;
  }

  // The supervisor and its running workers, for the process_* metrics.
  std::vector<pid_t> processes() const {
    std::vector<pid_t> pids{::getpid()};
    for (const Worker& worker : workers_) {
      if (worker.pid > 0) pids.push_back(worker.pid);
    }
    return pids;
  }

  static void onChildSignal(uv_signal_t* handle, int /*signum*/) {
    static_cast<Supervisor*>(handle->data)->reap();
  }

  static void onAllocate(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
    auto& self = *static_cast<Supervisor*>(handle->data);
    *buf = uv_buf_init(self.readBuffer_, sizeof self.readBuffer_);
  }

  // Every worker shares one pipe: a line once it serves, its counters when it exits, and EOF
  // once each has closed its end by exiting. Each line comes in one write, so lines from
  // different workers never interleave.
  static void onReports(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto& self = *static_cast<Supervisor*>(stream->data);
    if (nread > 0) {
      self.pending_.append(buf->base, static_cast<size_t>(nread));
      size_t newline;
      while ((newline = self.pending_.find('\n')) != std::string::npos) {
        self.onReport(std::string_view(self.pending_).substr(0, newline + 1));
        self.pending_.erase(0, newline + 1);
      }
      if (self.pending_.size() > kMaxReportBytes) {
        std::fprintf(stderr, "hoplite: a worker sent an overlong report; ignored\n");
        self.pending_.clear();
      }
      return;
    }
    if (nread < 0) {
      self.reportsEnded_ = true;
      self.closeReportPipe();
      self.finishIfDone();
    }
  }

  void onReport(std::string_view line) {
    if (line.starts_with(kReloadedPrefix) || line.starts_with(kReloadFailedPrefix)) {
      onReloadReport(line);
      return;
    }
    if (line == kReadyLine) {
      // The workers started with the supervisor; one a reload starts reports its generation too.
      ++readyCount_;
      if (!startedReady_ && readyCount_ == initialWorkers_ && !stopRequested_) {
        startedReady_ = true;
        std::fprintf(stderr, "hoplite: ready\n");
        std::fflush(stderr);
        // The supervisor is the process the service manager started: it alone notifies.
        notifyReady(servingStatus(listeners_) + " with " + std::to_string(initialWorkers_) +
                    " workers");
      }
      return;
    }
    const std::optional<Counters> counters =
        line.starts_with(kCountersPrefix)
            ? Counters::fromText(
                  line.substr(kCountersPrefix.size(), line.size() - kCountersPrefix.size() - 1))
            : std::nullopt;
    if (!counters) {
      std::fprintf(stderr, "hoplite: a worker sent a report the supervisor cannot read: %.*s",
                   static_cast<int>(line.size()), line.data());
      return;
    }
    total_ += *counters;
    ++countersReported_;
  }

  void closeReportPipe() {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&reports_))) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&reports_), nullptr);
  }

  size_t running() const {
    size_t count = 0;
    for (const Worker& worker : workers_) count += worker.pid > 0 ? 1 : 0;
    return count;
  }

  // Running and not draining away after a reload.
  uint32_t activeWorkers() const {
    uint32_t count = 0;
    for (const Worker& worker : workers_) count += worker.pid > 0 && !worker.retiring ? 1 : 0;
    return count;
  }

  // Once stopping, no worker is started any more: the pipe ends when the last worker's end
  // closes.
  void closeReportWriter() {
    if (reportWriter_ < 0) return;
    ::close(reportWriter_);
    reportWriter_ = -1;
  }

  // The first stop of any cause (a signal, a worker that died, a failed start) tells the
  // service manager; later ones only signal again.
  void stop(int signum) {
    if (!stopRequested_) notifyStopping(stoppingStatus(current_->timeouts.shutdownDelay));
    stopRequested_ = true;
    closeReportWriter();
    signalAll(signum);
    finishIfDone();
  }

  void signalAll(int signum) {
    for (const Worker& worker : workers_) {
      if (worker.pid > 0) ::kill(worker.pid, signum);
    }
  }

  void reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (Worker& worker : workers_) {
        if (worker.pid != pid) continue;
        worker.pid = -1;
        onWorkerExited(worker, pid, status);
      }
    }
    finishIfDone();
  }

  void onWorkerExited(const Worker& worker, pid_t pid, int status) {
    const uint32_t number = worker.number;
    const bool exitedCleanly = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (worker.retiring && !stopRequested_) {
      // Asked to go by a reload: its share of new connections went to the others already.
      logReload("worker " + std::to_string(number) + " (pid " + std::to_string(pid) + ") " +
                (exitedCleanly ? std::string("drained and exited")
                 : WIFSIGNALED(status)
                     ? "was killed by signal " + std::to_string(WTERMSIG(status))
                     : "exited with status " + std::to_string(WEXITSTATUS(status))));
      return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && workerExitCode_ == 0) {
      workerExitCode_ = WEXITSTATUS(status);
    }
    if (stopRequested_ && exitedCleanly) return;
    std::string how = WIFSIGNALED(status)
                          ? "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                                strsignal(WTERMSIG(status)) + ")"
                          : "exited with status " + std::to_string(WEXITSTATUS(status));
    if (stopRequested_) {
      std::fprintf(stderr, "hoplite: worker %u %s while stopping\n", number, how.c_str());
      if (WIFSIGNALED(status)) failed_ = true;
      return;
    }
    // Nothing asked this worker to stop. Its share of the connections is gone, and the kernel
    // would go on sending new ones to a socket nobody accepts on: stop the rest and exit
    // non-zero for the service manager to restart hoplite.
    std::fprintf(stderr, "hoplite: worker %u (pid %d) %s; stopping the other workers\n", number,
                 static_cast<int>(pid), how.c_str());
    failed_ = true;
    stop(SIGTERM);
  }

  // Done once every worker is reaped and has closed the pipe, so that its last report was read.
  void finishIfDone() {
    if (running() > 0 || !reportsEnded_ || finished_) return;
    finished_ = true;
    if (countersReported_ < workers_.size()) {
      std::fprintf(stderr,
                   "hoplite: %zu of %zu workers reported their counters; the sum below leaves "
                   "out the others\n",
                   countersReported_, workers_.size());
    }
    std::fprintf(stderr, "hoplite: counters: %s\n", total_.toText().c_str());
    std::fflush(stderr);
    // A late SIGTERM or SIGINT must not kill the supervisor before it exits with its own code.
    closeStopSignal(&sigterm_, nullptr);
    closeStopSignal(&sigint_, nullptr);
    closeStopSignal(&sigusr1_, nullptr);  // a late logrotate must not kill it either
    closeStopSignal(&sighup_, nullptr);   // nor a late reload
    uv_close(reinterpret_cast<uv_handle_t*>(&statusTimer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigchld_), nullptr);
    // /healthz answered "draining" until the last worker was gone.
    if (adminOpen_) admin_.close();
  }

  uv_loop_t* loop_;
  const conf::Config& config_;                   // as started: what the workers were forked with
  std::shared_ptr<const conf::Config> current_;  // the last config validated (reloads)
  RuntimeInfo& runtime_;
  const ServeAsWorker& serve_;
  int snapshotFd_;    // the validated config, for the workers (proxy/reload.h)
  int reportWriter_;  // the report pipe's write end, for workers started later; -1 once stopping
  std::vector<std::string> listeners_;  // the bound addresses, for the READY status line
  std::vector<conf::HostPort> bound_;   // the same with their ports, to bind more workers to
  std::vector<Worker> workers_;         // every worker started, in order, reaped ones included
  size_t initialWorkers_;               // those started with the supervisor
  uint32_t nextNumber_;                 // the number of the next worker a reload starts
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_signal_t sigchld_;
  uv_signal_t sigusr1_;
  uv_signal_t sighup_;
  uv_timer_t statusTimer_;
  static constexpr uint64_t kStatusPeriodMs = 1000;
  std::string lastStatus_;  // the last STATUS= sent while serving
  uv_pipe_t reports_;
  char readBuffer_[1024];
  std::string pending_;  // the start of a line not yet complete
  size_t readyCount_ = 0;
  bool startedReady_ = false;  // every worker started with the supervisor said it serves
  size_t reloadsPending_ = 0;  // workers yet to report the latest reload
  Counters total_;
  size_t countersReported_ = 0;
  bool reportsEnded_ = false;
  bool stopRequested_ = false;
  bool failed_ = false;
  bool finished_ = false;
  int workerExitCode_ = 0;
  admin::AdminState adminState_;
  admin::AdminListener admin_;
  bool adminOpen_ = false;
};

}  // namespace

std::string counterLine(const Counters& counters) {
  return std::string(kCountersPrefix) + counters.toText() + "\n";
}

size_t reservedWorkerSlots(uint32_t workers) {
  return std::min<size_t>(conf::kMaxWorkers, std::max<size_t>(16, size_t{4} * workers));
}

uint64_t workerShare(uint64_t total, uint32_t workers) {
  return total / workers + (total % workers != 0 ? 1 : 0);
}

int runSupervisor(const conf::Config& config, RuntimeInfo& runtime, const ServeAsWorker& serve) {
  // Signals that arrive before the loop watches them stay pending instead of killing the
  // supervisor (and orphaning workers) or being lost.
  const sigset_t watched = watchedSignals();
  sigset_t previous;
  sigprocmask(SIG_BLOCK, &watched, &previous);

  std::optional<WorkerListeners> listeners = bindWorkerListeners(
      config.listen, config.workers, static_cast<int>(config.limits.listenBacklog));
  if (!listeners) return 1;
  for (const std::string& shown : listeners->shown) {
    std::fprintf(stderr, "hoplite: listening on %s\n", shown.c_str());
  }
  // The listener labels are the bound addresses (the kernel's port for a port 0).
  runtime.firstLayout->listeners = listeners->shown;
  std::fflush(stderr);
  int reportPipe[2];
  if (::pipe2(reportPipe, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "hoplite: cannot create a pipe: %s\n", std::strerror(errno));
    listeners->closeAllBut(-1);
    return 1;
  }
  // Opened before the fork, so that every worker shares it (reloads).
  const int snapshotFd = createSnapshotFile();
  if (snapshotFd < 0) {
    listeners->closeAllBut(-1);
    return 1;
  }
  conf::Config workerConfig = config;
  workerConfig.limits.maxConnections = workerShare(config.limits.maxConnections, config.workers);
  const pid_t supervisorPid = ::getpid();

  std::vector<Worker> workers;
  bool forkFailed = false;
  for (uint32_t index = 0; index < config.workers; ++index) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (!detachFromSupervisor(supervisorPid)) return 1;
      ::close(reportPipe[0]);
      listeners->closeAllBut(static_cast<int>(index));
      const WorkerRole role{index + 1, index, listeners->sockets[index], reportPipe[1], snapshotFd,
                            previous,  0};
      return serve(workerConfig, role);
    }
    if (pid < 0) {
      std::fprintf(stderr, "hoplite: cannot start worker %u: %s\n", index + 1,
                   std::strerror(errno));
      forkFailed = true;
      break;
    }
    workers.push_back({pid, index + 1, index, 1, 0, false});
    std::fprintf(stderr, "hoplite: worker %u: pid %d\n", index + 1, static_cast<int>(pid));
  }
  // The workers hold their own copies; a socket left open here would keep taking connections
  // that no worker accepts once its worker has closed it.
  listeners->closeAllBut(-1);
  std::fflush(stderr);

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exitCode = 1;
  {
    // The supervisor keeps the report pipe's write end for the workers a reload starts, and
    // closes it once stopping.
    Supervisor supervisor(&loop, config, runtime, serve, std::move(workers), reportPipe[0],
                          reportPipe[1], snapshotFd, listeners->bound);
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    supervisor.reapNow();
    if (forkFailed || !supervisor.startAdmin()) supervisor.abandon();
    uv_run(&loop, UV_RUN_DEFAULT);
    exitCode = supervisor.exitCode();
  }
  uv_loop_close(&loop);
  ::close(snapshotFd);
  return exitCode;
}

}  // namespace hoplite::proxy
