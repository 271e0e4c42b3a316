#include "proxy/upstream/upstream_pool.h"

#include <algorithm>
#include <cassert>

namespace hoplite::proxy {

UpstreamPool::UpstreamPool(const conf::Upstream& upstream)
    : upstream_(upstream), failedUntil_(upstream.servers.size(), 0) {
  for (const conf::HostPort& server : upstream_.servers) {
    const bool v6 = server.host.find(':') != std::string::npos;
    serverTexts_.push_back((v6 ? "[" + server.host + "]" : server.host) + ":" +
                           std::to_string(server.port));
  }
}

UpstreamPool::~UpstreamPool() {
  assert(idle_.empty());
}

size_t UpstreamPool::pickServer(uint64_t now) {
  const size_t count = upstream_.servers.size();
  assert(count > 0);  // conf/ rejects an empty "servers"
  for (size_t step = 0; step < count; ++step) {
    const size_t index = (nextServer_ + step) % count;
    if (failedUntil_[index] <= now) {
      nextServer_ = (index + 1) % count;
      return index;
    }
  }
  const size_t index = nextServer_;
  nextServer_ = (nextServer_ + 1) % count;
  return index;
}

void UpstreamPool::markFailed(size_t index, uint64_t now) {
  failedUntil_[index] = now + kFailTimeoutMs;
}

void UpstreamPool::markAlive(size_t index) {
  failedUntil_[index] = 0;
}

UpstreamPool::IdleConnection UpstreamPool::takeIdle() {
  if (idle_.empty()) return {};
  IdleConnection connection = std::move(idle_.back());
  idle_.pop_back();
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
