#include "proxy/tunnel.h"

#include <cassert>
#include <cstdio>

#include "proxy/server.h"

namespace hoplite::proxy {

void Tunnel::start(Server& server, std::unique_ptr<Socket> client, std::unique_ptr<Socket> upstream,
                   const conf::Duration& idleTimeout, bool clientSentEof, Labels labels,
                   std::unique_ptr<observe::TunnelRecord> record) {
  // Owned by itself from here on: freed in its last socket's close callback, after close().
  new Tunnel(server, std::move(client), std::move(upstream), idleTimeout, clientSentEof,
             std::move(labels), std::move(record));
}

Tunnel::Tunnel(Server& server, std::unique_ptr<Socket> client, std::unique_ptr<Socket> upstream,
               const conf::Duration& idleTimeout, bool clientSentEof, Labels labels,
               std::unique_ptr<observe::TunnelRecord> record)
    : server_(server),
      client_(std::move(client)),
      upstream_(std::move(upstream)),
      record_(std::move(record)),
      generation_(std::move(labels.generation)),
      serverLease_(std::move(labels.serverLease)),
      openedNs_(observe::kMetricsRecorded ? uv_hrtime() : 0),
      route_(static_cast<uint16_t>(labels.route)),
      listener_(static_cast<uint16_t>(labels.listener)) {
  server_.registerConnection(this);
  ++server_.counters().tunnelsOpened;
  generation_->metrics.tunnelOpened(route_);
  client_->setHandler(this);
  upstream_->setHandler(this);
  relay(*client_, *upstream_);
  if (phase_ == Phase::Closing) return;
  relay(*upstream_, *client_);
  if (phase_ == Phase::Closing) return;
  if (clientSentEof) {
    up_.eof = true;
    firstDone_ = kClient;
    if (!shutdownTowards(*upstream_)) return;
  }
  if (idleTimeout) server_.idleSweeper().add(*this, *idleTimeout);
  updateReadState();
}

Tunnel::~Tunnel() {
  assert(phase_ == Phase::Closing);
  server_.unregisterConnection(this);
}

void Tunnel::close(std::string_view closedBy, std::string_view code, const char* reason) {
  if (phase_ == Phase::Closing) return;
  if (server_.debugLog())
    std::fprintf(stderr, "hoplite: tunnel %p closed: %s\n", static_cast<void*>(this), reason);
  phase_ = Phase::Closing;
  serverLease_.reset();
  if (record_ && server_.accessLog().enabled()) {
    const std::string_view by = closedBy.empty() ? firstDone_ : closedBy;
    observe::appendTunnelJsonLine(
        server_.accessLog().buffer(), *record_, observe::unixMillisecondsNow(),
        static_cast<double>(uv_hrtime() - record_->openedNs) / 1e6, by, code);
    server_.accessLog().lineAdded();
  }
  ++server_.counters().tunnelsClosed;
  if constexpr (observe::kMetricsRecorded) {
    generation_->metrics.tunnelClosed(route_, code, (uv_hrtime() - openedNs_) / 1000);
  }
  server_.idleSweeper().remove(*this);
  assert(client_ && upstream_ && openSockets_ == 2);  // both are ours until this point
  Socket::dispose(std::move(client_), this);
  server_.onClientClosed(generation_->metrics, listener_);
  Socket::dispose(std::move(upstream_), this);
}

void Tunnel::onSocketClosed() {
  if (--openSockets_ > 0) return;
  std::unique_ptr<Tunnel> self(this);
}

void Tunnel::relay(Socket& from, Socket& to) {
  if (from.buffered() == 0) return;
  const bool fromClient = &from == client_.get();
  generation_->metrics.tunnelBytes(route_, fromClient, from.buffered());
  if (record_) {
    (fromClient ? record_->bytesFromClient : record_->bytesFromUpstream) += from.buffered();
  }
  if (to.writeFrom(from) < 0) close(sideOf(to), "write_failed", "tunnel write failed");
}

void Tunnel::updateReadState() {
  if (phase_ == Phase::Closing) return;
  client_->setReading(!up_.eof && flowAllows(*client_, *upstream_));
  upstream_->setReading(!down_.eof && flowAllows(*upstream_, *client_));
}

void Tunnel::onSocketRead(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  server_.idleSweeper().touch(*this);
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
  server_.idleSweeper().touch(*this);
  directionFrom(socket).eof = true;
  if (firstDone_.empty()) firstDone_ = sideOf(socket);
  // Pass the half-close on: FIN to the other side, after the bytes already relayed to it.
  if (!shutdownTowards(peerOf(socket))) return;
  updateReadState();
}

bool Tunnel::shutdownTowards(Socket& destination) {
  // The last direction to finish, towards a socket whose own FIN we have read and passed on, with
  // nothing left to write to it: closing the tunnel sends this FIN too (close(2) sends FIN on a
  // socket with nothing unread, and a socket read to EOF has nothing unread), so a shutdown(2)
  // first would only cost a syscall per tunnel.
  if (directionFrom(destination).shutdownDone && destination.allWritten()) {
    close({}, "both_finished", "both directions finished");
    return false;
  }
  const int rc = destination.shutdown();
  if (rc < 0) {
    close(sideOf(destination), "shutdown_failed", "tunnel shutdown failed");
    return false;
  }
  if (rc == Socket::kShutdownSent) onFinSent(destination);
  return phase_ != Phase::Closing;
}

void Tunnel::onFinSent(Socket& destination) {
  // The direction that flows into `destination` is done.
  Direction& done = &destination == client_.get() ? down_ : up_;
  done.shutdownDone = true;
  if (up_.shutdownDone && down_.shutdownDone) {
    close({}, "both_finished", "both directions finished");
  }
}

void Tunnel::onSocketShutdown(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  onFinSent(socket);
}

void Tunnel::onSocketError(Socket& socket, int status, const char* /*what*/) {
  // A failing side ends the tunnel, whatever finished before it.
  const std::string_view side = sideOf(socket);
  if (status == UV_ECONNRESET) {
    close(side, side == kClient ? "client_reset" : "upstream_reset", "tunnel socket reset");
  } else {
    close(side, side == kClient ? "client_error" : "upstream_error", "tunnel socket failed");
  }
}

void Tunnel::onSocketWritten(Socket& /*socket*/) {
  if (phase_ == Phase::Closing) return;
  updateReadState();
}

void Tunnel::onIdleExpired() {
  ++server_.counters().timeoutTunnelIdle;
  close(kProxy, "tunnel_idle", "tunnel_idle expired");
}

}  // namespace hoplite::proxy
