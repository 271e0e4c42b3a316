#include "proxy/upstream_pool.h"

#include <algorithm>
#include <cassert>

namespace hoplite::proxy {

UpstreamPool::UpstreamPool(const conf::Upstream& upstream) : upstream_(upstream) {}

UpstreamPool::~UpstreamPool() {
  assert(idle_.empty());
}

const conf::HostPort& UpstreamPool::nextServer() {
  assert(!upstream_.servers.empty());  // conf/ rejects an empty "servers"
  const conf::HostPort& server = upstream_.servers[nextServer_ % upstream_.servers.size()];
  nextServer_ = (nextServer_ + 1) % upstream_.servers.size();
  return server;
}

std::unique_ptr<Socket> UpstreamPool::takeIdle() {
  if (idle_.empty()) return nullptr;
  std::unique_ptr<Socket> socket = std::move(idle_.back());
  idle_.pop_back();
  socket->setReading(false);
  socket->setHandler(nullptr);
  return socket;
}

void UpstreamPool::release(std::unique_ptr<Socket> socket) {
  if (closed_ || upstream_.keepalive == 0 || socket->buffered() != 0 ||
      socket->pendingWriteBytes() != 0) {
    Socket::dispose(std::move(socket));
    return;
  }
  if (idle_.size() >= upstream_.keepalive) {
    Socket::dispose(std::move(idle_.front()));
    idle_.erase(idle_.begin());
  }
  socket->setHandler(this);
  socket->setReading(true);
  idle_.push_back(std::move(socket));
}

void UpstreamPool::closeAll() {
  closed_ = true;
  for (auto& socket : idle_) Socket::dispose(std::move(socket));
  idle_.clear();
}

void UpstreamPool::drop(Socket& socket) {
  auto it = std::find_if(idle_.begin(), idle_.end(), [&socket](const std::unique_ptr<Socket>& s) {
    return s.get() == &socket;
  });
  if (it == idle_.end()) return;
  std::unique_ptr<Socket> owned = std::move(*it);
  idle_.erase(it);
  Socket::dispose(std::move(owned));
}

}  // namespace hoplite::proxy
