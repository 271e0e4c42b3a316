#include "proxy/upstream/health_checker.h"

#include <netinet/in.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "proxy/upstream/server_address.h"
#include "proxy/upstream/upstream_pool.h"

namespace hoplite::proxy {

namespace {

// A probe's answer is its status line: anything longer without one is not HTTP.
constexpr size_t kMaxStatusLineBytes = 1024;

}  // namespace

// A uv_getaddrinfo request outlives a checker closed while it runs: close() clears `checker`, and
// the callback then only frees the request.
struct HealthChecker::Resolve {
  uv_getaddrinfo_t req;
  HealthChecker* checker = nullptr;
  Probe* probe = nullptr;
  uint16_t port = 0;
};

HealthChecker::Probe::Probe(HealthChecker& owner, size_t index)
    : checker(owner),
      server(index),
      timer(
          owner.loop_, [this] { checker.onTimer(*this); }, [this] { checker.onTimerClosed(); }) {}

void HealthChecker::start(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads,
                          UpstreamPool& pool, VerdictListener onVerdict) {
  if (!pool.settings().healthCheck) return;
  auto* checker = new HealthChecker(loop, buffers, reads, pool, std::move(onVerdict));
  pool.adoptChecker(checker);
}

HealthChecker::HealthChecker(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads,
                             UpstreamPool& pool, VerdictListener onVerdict)
    : loop_(loop),
      buffers_(buffers),
      reads_(reads),
      pool_(&pool),
      check_(*pool.settings().healthCheck),
      upstreamName_(pool.name()),
      onVerdict_(std::move(onVerdict)),
      random_(std::random_device{}()) {
  for (size_t server = 0; server < pool.serverCount(); ++server) {
    probes_.push_back(std::make_unique<Probe>(*this, server));
    ++openTimers_;
    // The first probes go out at once, spread over up to a tenth of the interval.
    random_ = random_ * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto spread = static_cast<uint64_t>(check_.interval.count()) / 10 + 1;
    probes_.back()->timer.start(std::chrono::milliseconds((random_ >> 33) % spread));
  }
}

void HealthChecker::close() {
  if (pool_ == nullptr) return;
  pool_ = nullptr;
  for (auto& probe : probes_) {
    if (probe->socket) Socket::dispose(std::move(probe->socket));
    if (probe->resolving != nullptr) {
      static_cast<Resolve*>(probe->resolving->data)->checker = nullptr;
      uv_cancel(reinterpret_cast<uv_req_t*>(probe->resolving));
      probe->resolving = nullptr;
    }
    probe->timer.close();
  }
}

void HealthChecker::onTimerClosed() {
  if (--openTimers_ > 0) return;
  std::unique_ptr<HealthChecker> self(this);
}

void HealthChecker::onTimer(Probe& probe) {
  if (pool_ == nullptr) return;
  if (probe.inFlight) {
    finish(probe, false, "no status line within " + std::to_string(check_.timeout.count()) + " ms");
    return;
  }
  begin(probe);
}

void HealthChecker::begin(Probe& probe) {
  probe.inFlight = true;
  probe.timer.start(check_.timeout);
  const conf::HostPort& target = pool_->server(probe.server);
  if (struct sockaddr_storage address; upstream::literalAddress(target, address)) {
    connect(probe, reinterpret_cast<const sockaddr*>(&address));
    return;
  }
  auto request = std::make_unique<Resolve>();
  request->checker = this;
  request->probe = &probe;
  request->port = target.port;
  request->req.data = request.get();
  const struct addrinfo hints = upstream::resolverHints();
  const int rc = uv_getaddrinfo(loop_, &request->req, &HealthChecker::onResolved,
                                target.host.c_str(), nullptr, &hints);
  if (rc < 0) {
    finish(probe, false, std::string("resolve: ") + uv_strerror(rc));
    return;
  }
  probe.resolving = &request.release()->req;
}

void HealthChecker::onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* result) {
  std::unique_ptr<Resolve> request(static_cast<Resolve*>(req->data));
  HealthChecker* self = request->checker;
  if (self == nullptr) {
    uv_freeaddrinfo(result);
    return;
  }
  Probe& probe = *request->probe;
  probe.resolving = nullptr;
  const std::vector<struct sockaddr_storage> addresses =
      status < 0 ? std::vector<struct sockaddr_storage>()
                 : upstream::addressesOf(result, request->port);
  uv_freeaddrinfo(result);
  if (addresses.empty()) {
    self->finish(probe, false,
                 std::string("resolve: ") + uv_strerror(status < 0 ? status : UV_EAI_NONAME));
    return;
  }
  // The first address: a check asks whether the server answers, as its first connect would.
  self->connect(probe, reinterpret_cast<const sockaddr*>(&addresses.front()));
}

void HealthChecker::connect(Probe& probe, const struct sockaddr* address) {
  probe.socket = std::make_unique<Socket>(loop_, buffers_, reads_);
  probe.socket->setHandler(this);
  if (const int rc = probe.socket->connect(address); rc < 0) {
    finish(probe, false, std::string("connect: ") + uv_strerror(rc));
    return;
  }
  probe.socket->setReading(true);
}

HealthChecker::Probe* HealthChecker::probeOf(Socket& socket) {
  for (auto& probe : probes_) {
    if (probe->socket.get() == &socket) return probe.get();
  }
  return nullptr;
}

void HealthChecker::onSocketConnected(Socket& socket) {
  Probe* probe = probeOf(socket);
  if (probe == nullptr || pool_ == nullptr) return;
  const std::string host =
      check_.host.empty() ? std::string(pool_->serverText(probe->server)) : check_.host;
  const std::string request = "GET " + check_.path + " HTTP/1.1\r\nHost: " + host +
                              "\r\nUser-Agent: hoplite-health-check\r\nConnection: close\r\n\r\n";
  if (const int rc = socket.write(request); rc < 0) {
    finish(*probe, false, std::string("write: ") + uv_strerror(rc));
  }
}

void HealthChecker::onSocketRead(Socket& socket) {
  Probe* probe = probeOf(socket);
  if (probe == nullptr) return;
  const std::optional<uint16_t> status = policy::probeStatus(socket.data());
  if (!status) {
    if (socket.buffered() >= kMaxStatusLineBytes) finish(*probe, false, "no HTTP status line");
    return;
  }
  if (*status == 0) {
    finish(*probe, false, "not an HTTP status line");
    return;
  }
  const bool passed = policy::statusPasses(*status, check_);
  finish(*probe, passed, "status " + std::to_string(*status));
}

void HealthChecker::onSocketEof(Socket& socket) {
  if (Probe* probe = probeOf(socket)) finish(*probe, false, "closed before its status line");
}

void HealthChecker::onSocketError(Socket& socket, int status, const char* what) {
  if (Probe* probe = probeOf(socket)) {
    finish(*probe, false, std::string(what) + ": " + uv_strerror(status));
  }
}

void HealthChecker::onSocketBufferFull(Socket& socket) {
  if (Probe* probe = probeOf(socket)) finish(*probe, false, "no HTTP status line");
}

void HealthChecker::finish(Probe& probe, bool passed, const std::string& why) {
  if (probe.socket) Socket::dispose(std::move(probe.socket));
  probe.inFlight = false;
  if (pool_ == nullptr) return;
  // A server that answers its check can be connected to: a passive ejection ends with it.
  if (passed) pool_->markAlive(probe.server);
  if (const auto verdict = policy::recordProbe(probe.state, passed, check_)) {
    pool_->setVerdict(probe.server, *verdict);
    if (onVerdict_) onVerdict_(probe.server, *verdict);
    const bool up = *verdict == policy::HealthVerdict::Up;
    std::fprintf(
        stderr, "hoplite: upstream %s: server %.*s is %s: health check %s %u times in a row (%s)\n",
        upstreamName_.c_str(), static_cast<int>(pool_->serverText(probe.server).size()),
        pool_->serverText(probe.server).data(), up ? "up" : "down", up ? "passed" : "failed",
        static_cast<unsigned>(up ? check_.healthyAfter : check_.unhealthyAfter), why.c_str());
    std::fflush(stderr);
  }
  scheduleNext(probe);
}

void HealthChecker::scheduleNext(Probe& probe) {
  // interval, give or take 10%: servers checked together drift apart instead of being probed
  // in step forever.
  random_ = random_ * 6364136223846793005ULL + 1442695040888963407ULL;
  const auto interval = static_cast<uint64_t>(check_.interval.count());
  const uint64_t spread = interval / 5 + 1;
  const uint64_t next = interval - interval / 10 + (random_ >> 33) % spread;
  probe.timer.start(std::chrono::milliseconds(next));
}

}  // namespace hoplite::proxy
