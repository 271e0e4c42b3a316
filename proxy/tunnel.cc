#include "proxy/tunnel.h"

#include <cassert>
#include <cstdio>

#include "proxy/server.h"

namespace hoplite::proxy {

void Tunnel::start(Server& server, std::unique_ptr<Socket> client, std::unique_ptr<Socket> upstream,
                   const conf::Duration& idleTimeout, bool clientSentEof) {
  // Owned by itself from here on: freed in its timer's close callback, after close().
  new Tunnel(server, std::move(client), std::move(upstream), idleTimeout, clientSentEof);
}

Tunnel::Tunnel(Server& server, std::unique_ptr<Socket> client, std::unique_ptr<Socket> upstream,
               const conf::Duration& idleTimeout, bool clientSentEof)
    : server_(server),
      client_(std::move(client)),
      upstream_(std::move(upstream)),
      idleTimer_(
          server.loop(), [this] { onIdleTimer(); }, [this] { onTimerClosed(); }),
      idleTimeout_(idleTimeout),
      lastActivity_(uv_now(server.loop())) {
  server_.registerConnection(this);
  ++server_.counters().tunnelsOpened;
  client_->setHandler(this);
  upstream_->setHandler(this);
  relay(*client_, *upstream_);
  if (phase_ == Phase::Closing) return;
  relay(*upstream_, *client_);
  if (phase_ == Phase::Closing) return;
  if (clientSentEof) {
    up_.eof = true;
    if (upstream_->shutdown() < 0) {
      close("tunnel shutdown failed");
      return;
    }
  }
  idleTimer_.start(idleTimeout_);
  updateReadState();
}

Tunnel::~Tunnel() {
  assert(phase_ == Phase::Closing);
  server_.unregisterConnection(this);
}

void Tunnel::close(const char* reason) {
  if (phase_ == Phase::Closing) return;
  if (server_.debugLog())
    std::fprintf(stderr, "hoplite: tunnel %p closed: %s\n", static_cast<void*>(this), reason);
  phase_ = Phase::Closing;
  ++server_.counters().tunnelsClosed;
  Socket::dispose(std::move(client_));
  server_.onClientClosed();
  Socket::dispose(std::move(upstream_));
  idleTimer_.close();
}

void Tunnel::onTimerClosed() {
  std::unique_ptr<Tunnel> self(this);
}

void Tunnel::relay(Socket& from, Socket& to) {
  if (from.buffered() == 0) return;
  if (to.writeFrom(from) < 0) close("tunnel write failed");
}

void Tunnel::updateReadState() {
  if (phase_ == Phase::Closing) return;
  client_->setReading(!up_.eof && flowAllows(*client_, *upstream_));
  upstream_->setReading(!down_.eof && flowAllows(*upstream_, *client_));
}

void Tunnel::onSocketRead(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  lastActivity_ = uv_now(server_.loop());
  relay(socket, peerOf(socket));
  updateReadState();
}

void Tunnel::onSocketBufferFull(Socket& socket) {
  // Cannot happen (relay empties the buffer on every read), but never spin on it.
  if (phase_ == Phase::Closing) return;
  relay(socket, peerOf(socket));
  updateReadState();
}

void Tunnel::onSocketEof(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  lastActivity_ = uv_now(server_.loop());
  directionFrom(socket).eof = true;
  // Pass the half-close on: FIN to the other side once its queued writes are flushed.
  if (peerOf(socket).shutdown() < 0) {
    close("tunnel shutdown failed");
    return;
  }
  updateReadState();
}

void Tunnel::onSocketShutdown(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  // `socket` got our FIN: the direction that flows into it is done.
  Direction& done = &socket == client_.get() ? down_ : up_;
  done.shutdownDone = true;
  if (up_.shutdownDone && down_.shutdownDone) close("both directions finished");
}

void Tunnel::onSocketError(Socket& /*socket*/, int /*status*/, const char* /*what*/) {
  close("tunnel socket failed");
}

void Tunnel::onSocketWritten(Socket& /*socket*/) {
  if (phase_ == Phase::Closing) return;
  updateReadState();
}

void Tunnel::onIdleTimer() {
  if (phase_ == Phase::Closing || !idleTimeout_) return;
  // Re-arming the timer on every read would cost a heap update per read; instead the timer
  // checks the last activity when it fires and sleeps for the remainder (as h2o does).
  const uint64_t now = uv_now(server_.loop());
  const uint64_t limit = static_cast<uint64_t>(idleTimeout_->count());
  if (now - lastActivity_ >= limit) {
    ++server_.counters().timeoutTunnelIdle;
    close("tunnel_idle expired");
    return;
  }
  idleTimer_.start(std::chrono::milliseconds(limit - (now - lastActivity_)));
}

}  // namespace hoplite::proxy
