// Active health checks of one upstream pool: every `interval` (jittered by 10% either way), each
// server gets `GET path` with `Host: host` on a fresh connection; a status line in
// `expect_status` within `timeout` passes. policy/active_health.h turns the results into the
// pool's verdicts; each change is logged once. Each worker probes for itself.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "policy/active_health.h"
#include "proxy/socket.h"
#include "proxy/timer.h"

namespace hoplite::proxy {

class BufferPool;
class ReadBatch;
class UpstreamPool;

// Owned by itself: start() makes one for a pool that has a health_check, the pool closes it
// (UpstreamPool::closeAll), and it frees itself once its timers have closed.
class HealthChecker final : private SocketHandler {
 public:
  // `onVerdict` hears each change of a server's verdict (for the metrics).
  using VerdictListener = std::function<void(size_t server, policy::HealthVerdict verdict)>;
  static void start(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads, UpstreamPool& pool,
                    VerdictListener onVerdict);
  // Stops probing and disposes of the probes in flight; never touches the pool after this.
  void close();

 private:
  struct Probe {
    Probe(HealthChecker& checker, size_t server);
    HealthChecker& checker;
    size_t server;
    Timer timer;  // the next probe, or the timeout of the one in flight
    std::unique_ptr<Socket> socket;
    uv_getaddrinfo_t* resolving = nullptr;  // owned by libuv until its callback
    bool inFlight = false;
    policy::ActiveHealthState state;
  };
  struct Resolve;

  HealthChecker(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads, UpstreamPool& pool,
                VerdictListener onVerdict);
  ~HealthChecker() = default;
  friend struct std::default_delete<HealthChecker>;

  void onTimer(Probe& probe);
  void begin(Probe& probe);
  void connect(Probe& probe, const struct sockaddr* address);
  static void onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* result);
  // The probe ended: `passed`, with `why` for the log when it failed.
  void finish(Probe& probe, bool passed, const std::string& why);
  void scheduleNext(Probe& probe);
  Probe* probeOf(Socket& socket);
  void onTimerClosed();

  void onSocketConnected(Socket& socket) override;
  void onSocketRead(Socket& socket) override;
  void onSocketEof(Socket& socket) override;
  void onSocketError(Socket& socket, int status, const char* what) override;
  void onSocketBufferFull(Socket& socket) override;
  void onSocketWritten(Socket&) override {}
  void onSocketShutdown(Socket&) override {}

  uv_loop_t* loop_;
  BufferPool& buffers_;
  ReadBatch& reads_;
  UpstreamPool* pool_;  // null once closed
  conf::HealthCheck check_;
  std::string upstreamName_;
  VerdictListener onVerdict_;
  std::vector<std::unique_ptr<Probe>> probes_;
  size_t openTimers_ = 0;
  uint64_t random_;
};

}  // namespace hoplite::proxy
