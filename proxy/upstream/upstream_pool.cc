#include "proxy/upstream/upstream_pool.h"

#include <algorithm>
#include <cassert>
#include <random>

#include "proxy/upstream/health_checker.h"

namespace hoplite::proxy {

namespace {

std::vector<std::string> serverTextsOf(const conf::Upstream& upstream) {
  std::vector<std::string> texts;
  for (const conf::HostPort& server : upstream.servers) {
    const bool v6 = server.host.find(':') != std::string::npos;
    texts.push_back((v6 ? "[" + server.host + "]" : server.host) + ":" +
                    std::to_string(server.port));
  }
  return texts;
}

conf::Upstream withOptions(conf::Upstream upstream) {
  upstream.serverOptions.resize(upstream.servers.size());  // defaults for plain strings
  return upstream;
}

}  // namespace

UpstreamPool::UpstreamPool(const conf::Upstream& upstream)
    : upstream_(withOptions(upstream)),
      health_(upstream.servers.size()),
      serverTexts_(serverTextsOf(upstream)),
      balancer_(upstream.balance, serverTexts_, upstream_.serverOptions),
      random_(static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()) {
  for (const conf::ServerOptions& options : upstream_.serverOptions) {
    loads_.push_back({options.weight, options.backup, options.maxConnections, 0, true});
  }
  verdicts_.assign(upstream_.servers.size(), policy::HealthVerdict::Unknown);
}

UpstreamPool::~UpstreamPool() {
  assert(idle_.empty());
  if (checker_ != nullptr) checker_->close();
}

std::optional<size_t> UpstreamPool::pickServer(const std::vector<bool>& tried,
                                               std::optional<uint64_t> keyHash, uint64_t now) {
  for (size_t i = 0; i < loads_.size(); ++i) {
    loads_[i].available =
        !policy::isEjected(health_[i], now) && verdicts_[i] != policy::HealthVerdict::Down;
  }
  // splitmix64, only for random_two: 64 well-mixed bits, no allocation on this per-request path.
  uint64_t random = 0;
  if (upstream_.balance == conf::Balance::RandomTwo) {
    random_ += 0x9e3779b97f4a7c15ULL;
    random = (random_ ^ (random_ >> 30)) * 0xbf58476d1ce4e5b9ULL;
    random = (random ^ (random >> 27)) * 0x94d049bb133111ebULL;
    random ^= random >> 31;
  }
  return balancer_.pick(loads_, tried, keyHash, random);
}

bool UpstreamPool::markFailed(size_t index, uint64_t now) {
  // A lone server is never ejected (nginx ignores max_fails for it too): there is nowhere else
  // to send its requests, and a 503 for eject_for would be worse than trying it.
  if (upstream_.servers.size() == 1) return false;
  const bool ejected = policy::recordFailure(health_[index], upstream_.passiveHealth, now);
  if (ejected) ++ejectionsTotal_;
  return ejected;
}

void UpstreamPool::markAlive(size_t index) {
  policy::recordSuccess(health_[index]);
}

uint64_t UpstreamPool::ejectedForMs(size_t index, uint64_t now) const {
  return policy::isEjected(health_[index], now) ? health_[index].ejectedUntilMs - now : 0;
}

UpstreamPool::ServerLease::ServerLease(std::shared_ptr<UpstreamPool> pool, size_t server)
    : pool_(std::move(pool)), server_(server) {
  ++pool_->loads_[server_].active;
}

UpstreamPool::ServerLease& UpstreamPool::ServerLease::operator=(ServerLease&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = std::move(other.pool_);
    server_ = other.server_;
  }
  return *this;
}

void UpstreamPool::ServerLease::reset() {
  if (!pool_) return;
  --pool_->loads_[server_].active;
  pool_.reset();
}

UpstreamPool::IdleConnection UpstreamPool::takeIdle(size_t server) {
  // Newest first. The list is short (keepalive, plus what the traffic keeps parked).
  auto it = std::find_if(idle_.rbegin(), idle_.rend(),
                         [server](const IdleConnection& c) { return c.server == server; });
  if (it == idle_.rend()) return {};
  IdleConnection connection = std::move(*it);
  idle_.erase(std::next(it).base());
  untakenSincePeriod_ = std::min(untakenSincePeriod_, idle_.size());
  // Left reading: the new owner reads it at once for the response, and a stop/start pair would
  // cost two epoll_ctl calls per request. It becomes the handler before the next loop turn.
  connection.socket->setHandler(nullptr);
  return connection;
}

void UpstreamPool::release(std::unique_ptr<Socket> socket,
                           std::unique_ptr<parser::ResponseParser> parser, size_t server) {
  if (closed_ || upstream_.keepalive == 0 || socket->buffered() != 0 ||
      socket->pendingWriteBytes() != 0) {
    Socket::dispose(std::move(socket));
    return;
  }
  socket->setHandler(this);
  socket->setReading(true);
  idle_.push_back({std::move(socket), std::move(parser), server});
}

void UpstreamPool::trimSurplus() {
  const size_t surplus =
      idle_.size() > upstream_.keepalive ? idle_.size() - upstream_.keepalive : 0;
  const size_t unused = std::min(surplus, untakenSincePeriod_);
  for (size_t i = 0; i < unused; ++i) Socket::dispose(std::move(idle_[i].socket));
  idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(unused));
  untakenSincePeriod_ = idle_.size();
}

void UpstreamPool::closeAll() {
  closed_ = true;
  if (checker_ != nullptr) {
    checker_->close();
    checker_ = nullptr;
  }
  for (IdleConnection& connection : idle_) Socket::dispose(std::move(connection.socket));
  idle_.clear();
}

void UpstreamPool::drop(Socket& socket) {
  auto it = std::find_if(idle_.begin(), idle_.end(),
                         [&socket](const IdleConnection& c) { return c.socket.get() == &socket; });
  if (it == idle_.end()) return;
  std::unique_ptr<Socket> owned = std::move(it->socket);
  idle_.erase(it);
  untakenSincePeriod_ = std::min(untakenSincePeriod_, idle_.size());
  Socket::dispose(std::move(owned));
}

}  // namespace hoplite::proxy
