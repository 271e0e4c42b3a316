// Getting one request a connection to its upstream: an idle keep-alive connection from the
// pool, or a new one to the server the pool picks, resolving its name and trying each of its
// addresses, then the next server on failure (each server at most once per request: nginx's
// `proxy_next_upstream error timeout`). The Session asks for a connection and gets a connected
// socket or, once every server failed, the last failure (connect_failure.h maps it to a status).
// Server choice lives in the pool; this is the part with sockets and the resolver.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "parser/message_parser.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/socket.h"
#include "proxy/upstream/connect_failure.h"
#include "proxy/upstream/upstream_pool.h"

namespace hoplite::proxy {
class BufferPool;
class ReadBatch;
}  // namespace hoplite::proxy

namespace hoplite::proxy::upstream {

// What a Connector tells whoever asked it for a connection.
class ConnectOwner {
 public:
  // A new server is being tried: its upstream_connect period starts now.
  virtual void onServerAttempt(size_t server) = 0;
  // A connect to one address of `server` is being issued (for the access log's timing and
  // upstream_addr). `resolved`: that address when it came from resolving the server's name,
  // null when the server is an IP literal.
  virtual void onConnectIssued(size_t server, const struct sockaddr_storage* resolved) = 0;
  // A connection is ready: a new one (`reused` false, `parser` null) or one from the pool's
  // idle ones with the parser of its last response, and the lease that counts the request on
  // its server. The owner becomes the socket's handler and sets its reading state before
  // returning to the loop.
  virtual void onUpstreamConnected(std::unique_ptr<Socket> socket,
                                   std::unique_ptr<parser::ResponseParser> parser, size_t server,
                                   bool reused, UpstreamPool::ServerLease lease) = 0;
  // Server `server` failed (`reason`, libuv `status`); `ejected`: passive health took it out;
  // `another`: the next server is tried.
  virtual void onServerFailed(size_t server, observe::ConnectFailure reason, int status,
                              bool timedOut, bool ejected, bool another) = 0;
  // Every server this request may try failed (`last` is how the last one did), or none could
  // take it at all (NoServer).
  virtual void onNoConnection(ConnectOutcome last) = 0;

 protected:
  ~ConnectOwner() = default;
};

// One per Session, reused by its exchanges. Owns the socket being connected and the name
// resolution in flight; cancel() drops both.
class Connector final : private SocketHandler {
 public:
  Connector(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads, ConnectOwner& owner);
  ~Connector();
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  // Gets a connection from `pool` for a new request: to the server the pool's balance picks
  // (`keyHash`: the request's hash key), an idle one to it when `allowReuse` and there is one,
  // else a new one; on failure the next server the pool picks, each at most once. Reports to
  // the owner, possibly before returning.
  void start(std::shared_ptr<UpstreamPool> pool, bool allowReuse, std::optional<uint64_t> keyHash);
  // The owner's upstream_connect period for the current server expired: it counts as that
  // server's failure, and the next one is tried.
  void connectTimedOut();
  // Drops the connection in progress and any resolution; nothing is reported after it.
  void cancel();
  // Whether a server is being resolved or connected to.
  bool connecting() const { return pool_ != nullptr; }

 private:
  struct ResolveRequest;

  void connectToServer(size_t server);
  void connectToNextAddress(int lastError);
  void serverFailed(const char* what, int status, bool timedOut);
  static void onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* result);

  // SocketHandler, for the socket being connected. Nothing is read before the connect
  // completes (libuv reports it first); a failure moves on to the next address.
  void onSocketConnected(Socket& socket) override;
  void onSocketError(Socket& socket, int status, const char* what) override;
  void onSocketEof(Socket& socket) override { onSocketError(socket, UV_EOF, "connect"); }
  void onSocketRead(Socket&) override {}
  void onSocketBufferFull(Socket&) override {}
  void onSocketWritten(Socket&) override {}
  void onSocketShutdown(Socket&) override {}

  uv_loop_t* loop_;
  BufferPool& buffers_;
  ReadBatch& reads_;
  ConnectOwner& owner_;
  std::shared_ptr<UpstreamPool> pool_;  // while connecting
  std::unique_ptr<Socket> socket_;
  ResolveRequest* resolve_ = nullptr;  // owned by libuv until its callback
  std::vector<bool> tried_;            // the servers tried for this request
  std::optional<uint64_t> keyHash_;
  size_t server_ = 0;                // the index being connected to
  UpstreamPool::ServerLease lease_;  // counts the request on server_ while connecting
  // Where the chosen server may be reached (a name can resolve to several, e.g. ::1 and
  // 127.0.0.1 for localhost); tried in order until one accepts.
  std::vector<struct sockaddr_storage> addresses_;
  size_t nextAddress_ = 0;
  bool resolvedByName_ = false;  // addresses_ came from the resolver
};

}  // namespace hoplite::proxy::upstream
