// A raw bidirectional byte copy between a client and an upstream after an accepted 101.
#pragma once

#include <uv.h>

#include <memory>

#include "conf/config.h"
#include "proxy/client_connection.h"
#include "proxy/generation.h"
#include "proxy/idle_sweeper.h"
#include "proxy/observe/exchange_record.h"
#include "proxy/slab_pool.h"
#include "proxy/socket.h"

namespace hoplite::proxy {

class Server;

// Owns both sockets (moved in from the Session); the loop's IdleSweeper watches it for
// tunnel_idle. Bytes are copied as they come, with backpressure per direction (a side is read only
// while the other side's write queue is below the watermark). EOF from one side shuts down writing
// to the other once its queue drains (half-close); the tunnel ends when both directions are done,
// on any error, or after tunnel_idle without a byte in either direction. No HTTP timer applies
// here.
class Tunnel final : public ClientConnection,
                     private SocketHandler,
                     private SocketCloseListener,
                     private IdleWatched,
                     public SlabAllocated<Tunnel> {
 public:
  // What the metrics call this tunnel: its route's index and its client's listener's, in the
  // layout of `generation` (the handshake's, which the tunnel keeps alive and counts into to the
  // end, whatever a reload does meanwhile).
  struct Labels {
    std::shared_ptr<Generation> generation;
    size_t route = 0;
    size_t listener = 0;
    // Counts the tunnel on its upstream server (least_connections, max_connections) until it
    // closes.
    UpstreamPool::ServerLease serverLease;
  };

  // Takes both sockets. Bytes already in the client's read buffer (held behind the upgrade
  // request) go up first, bytes already in the upstream's (after the 101 head) go down; writes
  // already queued on either socket (the 101 head) stay ahead of them. `clientSentEof`: the
  // client half-closed while its bytes were held; the upstream gets FIN after them. `record`
  // (null when the access log is off) is completed and written when the tunnel closes.
  static void start(Server& server, std::unique_ptr<Socket> client,
                    std::unique_ptr<Socket> upstream, const conf::Duration& idleTimeout,
                    bool clientSentEof, Labels labels,
                    std::unique_ptr<observe::TunnelRecord> record);

  void beginDrain() override {}  // a tunnel is in flight until it ends or the drain expires
  void forceClose() override { close(kProxy, "shutdown_drain", "shutdown drain expired"); }

 private:
  enum class Phase { Relaying, Closing };
  struct Direction {
    bool eof = false;           // the source sent FIN
    bool shutdownDone = false;  // FIN was passed on to the destination
  };

  friend struct std::default_delete<Tunnel>;  // adopted in its last socket's close callback

  Tunnel(Server& server, std::unique_ptr<Socket> client, std::unique_ptr<Socket> upstream,
         const conf::Duration& idleTimeout, bool clientSentEof, Labels labels,
         std::unique_ptr<observe::TunnelRecord> record);
  ~Tunnel();

  // Who ended a tunnel, for the access log: the side that finished or failed first, or the proxy
  // (tunnel_idle, the shutdown drain).
  static constexpr std::string_view kClient = "client";
  static constexpr std::string_view kUpstream = "upstream";
  static constexpr std::string_view kProxy = "proxy";

  // The one close path. `closedBy` is who ended it, or empty for the side whose FIN came first
  // (both directions finished); `code` is the access log's close_reason, `reason` the debug
  // log's.
  void close(std::string_view closedBy, std::string_view code, const char* reason);
  std::string_view sideOf(Socket& socket) { return &socket == client_.get() ? kClient : kUpstream; }
  void relay(Socket& from, Socket& to);
  // Sends FIN to `destination` once the bytes already written to it are out (at once when none
  // is queued). False when the tunnel closed: the shutdown failed, or both directions are done.
  bool shutdownTowards(Socket& destination);
  // `destination` got our FIN; closes the tunnel once both directions are done.
  void onFinSent(Socket& destination);
  void updateReadState();
  Socket& peerOf(Socket& socket) { return &socket == client_.get() ? *upstream_ : *client_; }
  Direction& directionFrom(Socket& socket) { return &socket == client_.get() ? up_ : down_; }
  void onIdleExpired() override;
  void onSocketClosed() override;

  void onSocketRead(Socket& socket) override;
  void onSocketBufferFull(Socket& socket) override;
  void onSocketEof(Socket& socket) override;
  void onSocketError(Socket& socket, int status, const char* what) override;
  void onSocketWritten(Socket& socket) override;
  void onSocketConnected(Socket&) override {}
  void onSocketShutdown(Socket& socket) override;

  Server& server_;
  std::unique_ptr<Socket> client_;
  std::unique_ptr<Socket> upstream_;
  int openSockets_ = 2;  // freed when the close callbacks of both have run
  Direction up_;         // client -> upstream
  Direction down_;       // upstream -> client
  Phase phase_ = Phase::Relaying;
  std::unique_ptr<observe::TunnelRecord> record_;
  std::shared_ptr<Generation> generation_;
  UpstreamPool::ServerLease serverLease_;
  uint64_t openedNs_;  // uv_hrtime() at the start, for the duration histogram
  uint16_t route_;
  uint16_t listener_;
  std::string_view firstDone_;  // the side whose FIN came first, if any
};

}  // namespace hoplite::proxy
