// One upstream's servers (their loads, health and balancer) and its idle keep-alive
// connections.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "conf/config.h"
#include "parser/message_parser.h"
#include "policy/active_health.h"
#include "policy/balance.h"
#include "policy/passive_health.h"
#include "proxy/socket.h"

namespace hoplite::proxy {

class HealthChecker;

// Idle connections are kept reading: any byte, EOF or error from an idle connection means the
// server closed it (or broke HTTP), and the connection is dropped at once instead of failing the
// next request. A request that still meets a stale connection is retried once by the Session.
//
// `keepalive` is how many idle connections stay open however long they wait. More than that stay
// parked while the traffic keeps using them: with more requests in flight than `keepalive`, a
// pool that closed every connection beyond it on release opened as many again a moment later
// (at 1,000 keep-alive clients and keepalive 256, 0.39 new upstream connections per request and
// twice the CPU per request; bench/README.md, "Upstream connections beyond keepalive"). The
// connections that no request took during a whole period are closed by trimSurplus(), oldest
// first, down to `keepalive`: HAProxy keeps idle connections and purges the unused ones every
// pool-purge-delay in the same way. Requests take the most recently parked connection, so the
// ones that stay unused are the oldest.
class UpstreamPool final : private SocketHandler {
 public:
  // An idle keep-alive connection with the parser of its responses, which waits at a message
  // boundary as the connection does. Parked together, so that an idle client holds no response
  // parser (about 2 KiB) and the next exchange on the connection allocates none.
  struct IdleConnection {
    std::unique_ptr<Socket> socket;                  // null: the pool had none
    std::unique_ptr<parser::ResponseParser> parser;  // may be null
    size_t server = 0;                               // the index of the server it is connected to
  };

  explicit UpstreamPool(const conf::Upstream& upstream);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  const std::string& name() const { return upstream_.name; }
  const conf::Upstream& settings() const { return upstream_; }
  size_t serverCount() const { return upstream_.servers.size(); }
  const conf::HostPort& server(size_t index) const { return upstream_.servers[index]; }
  // "10.0.0.11:8000" or "[fd00::1]:8000" for server `index`, formatted once, for logs.
  std::string_view serverText(size_t index) const { return serverTexts_[index]; }
  // The server for a new request by the upstream's balance, among those not `tried` for it yet
  // that can take one (not ejected, below max_connections; backups only when no other can);
  // nullopt when none can. `keyHash`: the request's hash key (balance "hash"). `now` is
  // uv_now().
  std::optional<size_t> pickServer(const std::vector<bool>& tried, std::optional<uint64_t> keyHash,
                                   uint64_t now);
  // Server `index` failed (a connect refused, unreachable or timed out, a name that did not
  // resolve, a reset or close before any response byte): passive health counts it, and true
  // means it ejected the server. markAlive (a response, a passing health check) resets it.
  bool markFailed(size_t index, uint64_t now);
  void markAlive(size_t index);
  // How long server `index` is ejected for from `now`, 0 when it is not.
  uint64_t ejectedForMs(size_t index, uint64_t now) const;
  uint64_t ejections() const { return ejectionsTotal_; }

  // A request in flight or a tunnel on a server, counted for least_connections and
  // max_connections while the lease lives. Keeps its pool alive.
  class ServerLease {
   public:
    ServerLease() = default;
    ServerLease(std::shared_ptr<UpstreamPool> pool, size_t server);
    ServerLease(ServerLease&& other) noexcept { *this = std::move(other); }
    ServerLease& operator=(ServerLease&& other) noexcept;
    ~ServerLease() { reset(); }
    void reset();

   private:
    std::shared_ptr<UpstreamPool> pool_;
    size_t server_ = 0;
  };
  uint32_t activeOn(size_t index) const { return loads_[index].active; }

  // The active health check's verdict on server `index` (Unknown until its first one, or with
  // no health_check): a server that is Down gets no new request.
  void setVerdict(size_t index, policy::HealthVerdict verdict) { verdicts_[index] = verdict; }
  policy::HealthVerdict verdict(size_t index) const { return verdicts_[index]; }
  // The checker probing this pool's servers, closed with the pool (closeAll).
  void adoptChecker(HealthChecker* checker) { checker_ = checker; }

  // The most recently parked idle connection to server `server` (its peer is the least likely
  // to have timed it out), or a null socket. The caller becomes its owner and handler, and must
  // set its reading state (the socket is still reading) and the parser's body handler before
  // returning to the loop.
  IdleConnection takeIdle(size_t server);
  // Parks a connection whose last response completed cleanly, with its parser (between
  // messages, its head released), or disposes of both when `keepalive` is 0 or the pool is
  // closed.
  void release(std::unique_ptr<Socket> socket, std::unique_ptr<parser::ResponseParser> parser,
               size_t server);
  // Closes the idle connections beyond `keepalive` that no request took since the last call,
  // oldest first, and starts a new period. Called once per period by the Server.
  void trimSurplus();
  size_t idleCount() const { return idle_.size(); }
  // Disposes of every idle connection and refuses later ones (shutdown).
  void closeAll();

 private:
  void drop(Socket& socket);
  void onSocketRead(Socket& socket) override { drop(socket); }
  void onSocketBufferFull(Socket& socket) override { drop(socket); }
  void onSocketEof(Socket& socket) override { drop(socket); }
  void onSocketError(Socket& socket, int, const char*) override { drop(socket); }
  void onSocketWritten(Socket&) override {}
  void onSocketConnected(Socket&) override {}
  void onSocketShutdown(Socket&) override {}

  conf::Upstream upstream_;
  std::vector<policy::ServerLoad> loads_;  // per server
  std::vector<policy::PassiveHealthState> health_;
  std::vector<std::string> serverTexts_;  // before balancer_, which is built from them
  policy::Balancer balancer_;
  uint64_t random_;  // random_two's generator state (splitmix64)
  uint64_t ejectionsTotal_ = 0;
  std::vector<policy::HealthVerdict> verdicts_;
  HealthChecker* checker_ = nullptr;  // frees itself once closed
  std::vector<IdleConnection> idle_;  // oldest first
  size_t untakenSincePeriod_ = 0;     // the low-water mark of idle_.size() this period
  bool closed_ = false;
};

}  // namespace hoplite::proxy
