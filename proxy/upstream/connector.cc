#include "proxy/upstream/connector.h"

#include <netinet/in.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "proxy/upstream/server_address.h"
#include "proxy/upstream/upstream_pool.h"

namespace hoplite::proxy::upstream {

// A uv_getaddrinfo request outlives a connector that is cancelled while it runs: the connector
// then clears `connector` and the callback only frees the request.
struct Connector::ResolveRequest {
  uv_getaddrinfo_t req;
  Connector* connector = nullptr;
  uint16_t port = 0;
};

Connector::Connector(uv_loop_t* loop, BufferPool& buffers, ReadBatch& reads, ConnectOwner& owner)
    : loop_(loop), buffers_(buffers), reads_(reads), owner_(owner) {}

Connector::~Connector() {
  cancel();
}

void Connector::cancel() {
  if (resolve_ != nullptr) {
    resolve_->connector = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_->req));
    resolve_ = nullptr;
  }
  if (socket_) Socket::dispose(std::move(socket_));
  lease_.reset();
  pool_ = nullptr;
}

void Connector::start(std::shared_ptr<UpstreamPool> pool, bool allowReuse,
                      std::optional<uint64_t> keyHash) {
  cancel();
  tried_.assign(pool->serverCount(), false);
  keyHash_ = keyHash;
  const std::optional<size_t> server = pool->pickServer(tried_, keyHash_, uv_now(loop_));
  if (!server) {
    std::fprintf(stderr,
                 "hoplite: upstream %s: no server can take a request (every one ejected or "
                 "at max_connections)\n",
                 pool->name().c_str());
    owner_.onNoConnection(ConnectOutcome::NoServer);
    return;
  }
  if (allowReuse) {
    if (UpstreamPool::IdleConnection idle = pool->takeIdle(*server); idle.socket) {
      UpstreamPool::ServerLease lease(pool, *server);
      owner_.onUpstreamConnected(std::move(idle.socket), std::move(idle.parser), *server,
                                 /*reused=*/true, std::move(lease));
      return;
    }
  }
  pool_ = std::move(pool);
  connectToServer(*server);
}

void Connector::connectTimedOut() {
  if (pool_ == nullptr) return;
  serverFailed("connect", UV_ETIMEDOUT, /*timedOut=*/true);
}

void Connector::connectToServer(size_t server) {
  server_ = server;
  tried_[server] = true;
  lease_ = UpstreamPool::ServerLease(pool_, server);
  owner_.onServerAttempt(server_);
  const conf::HostPort& target = pool_->server(server_);
  if (struct sockaddr_storage address; literalAddress(target, address)) {
    resolvedByName_ = false;
    addresses_.assign(1, address);
    nextAddress_ = 0;
    connectToNextAddress(UV_ECONNREFUSED);
    return;
  }
  // A host name: resolve on the thread pool, never blocking the loop.
  auto request = std::make_unique<ResolveRequest>();
  request->connector = this;
  request->port = target.port;
  request->req.data = request.get();
  const struct addrinfo hints = resolverHints();
  const int rc = uv_getaddrinfo(loop_, &request->req, &Connector::onResolved, target.host.c_str(),
                                nullptr, &hints);
  if (rc < 0) {
    serverFailed("resolve", rc, /*timedOut=*/false);
    return;
  }
  resolve_ = request.release();
}

void Connector::onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* result) {
  std::unique_ptr<ResolveRequest> request(static_cast<ResolveRequest*>(req->data));
  Connector* self = request->connector;
  if (self == nullptr || self->pool_ == nullptr) {
    uv_freeaddrinfo(result);
    return;
  }
  self->resolve_ = nullptr;
  if (status < 0 || result == nullptr) {
    uv_freeaddrinfo(result);
    self->serverFailed("resolve", status < 0 ? status : UV_EAI_NONAME, /*timedOut=*/false);
    return;
  }
  self->addresses_ = addressesOf(result, request->port);
  self->resolvedByName_ = true;
  self->nextAddress_ = 0;
  uv_freeaddrinfo(result);
  self->connectToNextAddress(UV_EAI_NONAME);
}

void Connector::connectToNextAddress(int lastError) {
  if (socket_) Socket::dispose(std::move(socket_));
  if (nextAddress_ >= addresses_.size()) {
    serverFailed("connect", lastError, /*timedOut=*/false);
    return;
  }
  const struct sockaddr_storage& address = addresses_[nextAddress_++];
  owner_.onConnectIssued(server_, resolvedByName_ ? &address : nullptr);
  socket_ = std::make_unique<Socket>(loop_, buffers_, reads_);
  socket_->setHandler(this);
  const int rc = socket_->connect(reinterpret_cast<const sockaddr*>(&address));
  if (rc < 0) {
    connectToNextAddress(rc);
    return;
  }
  // Read from now on, before the connect completes: the socket's first epoll registration then
  // carries EPOLLIN with EPOLLOUT, and the connect completion leaves one EPOLL_CTL_MOD, where
  // starting to read afterwards costs an ADD (failing with EEXIST) and a MOD. libuv reports the
  // connect first (uv__stream_io handles a pending connect request before any read), so a
  // refused connect is still a connect failure, and nothing is read before onSocketConnected.
  socket_->setReading(true);
}

void Connector::onSocketConnected(Socket& socket) {
  if (&socket != socket_.get() || pool_ == nullptr) return;
  pool_ = nullptr;
  owner_.onUpstreamConnected(std::move(socket_), nullptr, server_, /*reused=*/false,
                             std::move(lease_));
}

void Connector::onSocketError(Socket& socket, int status, const char* /*what*/) {
  if (&socket != socket_.get() || pool_ == nullptr) return;
  connectToNextAddress(status);
}

void Connector::serverFailed(const char* what, int status, bool timedOut) {
  if (resolve_ != nullptr) {
    resolve_->connector = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_->req));
    resolve_ = nullptr;
  }
  if (socket_) Socket::dispose(std::move(socket_));
  const observe::ConnectFailure reason =
      timedOut                                                ? observe::ConnectFailure::Timeout
      : std::string_view(what) == "resolve"                   ? observe::ConnectFailure::Resolve
      : status == UV_ECONNREFUSED                             ? observe::ConnectFailure::Refused
      : status == UV_ENETUNREACH || status == UV_EHOSTUNREACH ? observe::ConnectFailure::Unreachable
                                                              : observe::ConnectFailure::Other;
  const uint64_t now = uv_now(loop_);
  const conf::HostPort& target = pool_->server(server_);
  const bool ejected = pool_->markFailed(server_, now);
  lease_.reset();
  const std::optional<size_t> next = pool_->pickServer(tried_, keyHash_, now);
  std::string ejection;
  if (ejected) {
    ejection = "; ejected for " + std::to_string(pool_->ejectedForMs(server_, now)) + " ms";
  }
  std::fprintf(stderr, "hoplite: upstream %s: %s to %s:%u failed: %s%s%s\n", pool_->name().c_str(),
               what, target.host.c_str(), static_cast<unsigned>(target.port),
               timedOut ? "upstream_connect expired" : uv_strerror(status), ejection.c_str(),
               next ? "; trying the next server" : "");
  const size_t failed = server_;
  std::shared_ptr<UpstreamPool> pool = next ? pool_ : nullptr;
  if (!next) pool_ = nullptr;
  // The owner may cancel or restart this connector from here on.
  owner_.onServerFailed(failed, reason, status, timedOut, ejected, next.has_value());
  if (!next) {
    owner_.onNoConnection(timedOut ? ConnectOutcome::TimedOut : ConnectOutcome::Failed);
    return;
  }
  if (pool_ == pool) connectToServer(*next);
}

}  // namespace hoplite::proxy::upstream
