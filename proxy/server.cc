#include "proxy/server.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "conf/cidr.h"
#include "conf/host_port.h"
#include "policy/forwarded.h"
#include "proxy/observe/error_log.h"
#include "proxy/service_notify.h"
#include "proxy/session.h"
#include "proxy/socket.h"
#include "proxy/stop_signal.h"
#include "proxy/supervisor.h"
#include "proxy/upstream/health_checker.h"
#include "proxy/worker_listeners.h"

namespace hoplite::proxy {

namespace {

// Fills `out` for a literal address, or resolves a name. Runs only at startup, before the loop
// turns, so the synchronous uv_getaddrinfo blocks nothing.
bool resolveListenAddress(uv_loop_t* loop, const conf::HostPort& hostPort,
                          struct sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (uv_ip4_addr(hostPort.host.c_str(), hostPort.port, reinterpret_cast<sockaddr_in*>(&out)) == 0)
    return true;
  if (uv_ip6_addr(hostPort.host.c_str(), hostPort.port, reinterpret_cast<sockaddr_in6*>(&out)) == 0)
    return true;
  uv_getaddrinfo_t req;
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  const std::string port = std::to_string(hostPort.port);
  if (uv_getaddrinfo(loop, &req, nullptr, hostPort.host.c_str(), port.c_str(), &hints) != 0)
    return false;
  bool found = false;
  if (req.addrinfo != nullptr) {
    std::memcpy(&out, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
    found = true;
  }
  uv_freeaddrinfo(req.addrinfo);
  return found;
}

uint16_t portOf(const struct sockaddr_storage& address) {
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

// Appends the decimal text of `value` (0-255) at `out`; returns the end.
char* appendOctet(char* out, uint8_t value) {
  if (value >= 100) *out++ = static_cast<char>('0' + value / 100);
  if (value >= 10) *out++ = static_cast<char>('0' + value / 10 % 10);
  *out++ = static_cast<char>('0' + value % 10);
  return out;
}

// The dotted quad of an IPv4 address, as inet_ntop writes it ("127.0.0.1"). Written by hand
// because inet_ntop (and uv_ip4_name) format through snprintf, and this runs once per accepted
// connection.
std::string ipv4Text(const uint8_t* bytes) {
  char text[16];  // "255.255.255.255"
  char* end = text;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) *end++ = '.';
    end = appendOctet(end, bytes[i]);
  }
  return std::string(text, static_cast<size_t>(end - text));
}

// The peer's address straight from its sockaddr (no text round trip through inet_ntop and
// inet_pton), with its text. A v4-mapped IPv6 address (a dual-stack listener's IPv4 peer) is the
// IPv4 address, as conf::IpAddress::fromText reads "::ffff:a.b.c.d".
void setPeerAddress(const struct sockaddr_storage& address, policy::PeerInfo& peer) {
  conf::IpAddress& ip = peer.address;
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ip.family = conf::IpAddress::Family::V4;
    std::memcpy(ip.bytes.data(), &v4.sin_addr, 4);
    peer.addressText = ipv4Text(ip.bytes.data());
    return;
  }
  if (address.ss_family != AF_INET6) return;  // getpeername failed: left unspecified
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
  const uint8_t* bytes = v6.sin6_addr.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
    ip.family = conf::IpAddress::Family::V4;
    std::memcpy(ip.bytes.data(), bytes + 12, 4);
    peer.addressText = ipv4Text(ip.bytes.data());
    return;
  }
  ip.family = conf::IpAddress::Family::V6;
  std::memcpy(ip.bytes.data(), bytes, 16);
  peer.addressText = ip.toText();
}

bool debugLogWanted() {
  const char* debug = std::getenv("HOPLITE_DEBUG");
  return debug != nullptr && *debug != '\0' && std::strcmp(debug, "0") != 0;
}

}  // namespace

Server::Server(uv_loop_t* loop, std::shared_ptr<const conf::Config> first, ServerMetrics metrics,
               std::vector<int> inheritedListeners, const admin::AdminState* admin)
    : loop_(loop),
      readBatch_(loop),
      metricsHome_(metrics),
      generation_(std::make_shared<Generation>(
          metrics.generations.number(), std::move(first), metrics.generations.layoutShared(),
          metrics.table.counters(metrics.slot), metrics.table.cells(metrics.slot))),
      debugLog_(debugLogWanted()),
      idleSweeper_(loop, [] {}),
      heapTrimmer_(loop, debugLog_, buffers_, [] {}),
      surplusTimer_(
          loop, [this] { trimSurplus(); }, [] {}),
      delayTimer_(
          loop,
          [this] {
            notifyStatusIfMain("draining");
            beginShutdown();
          },
          [] {}),
      accessLog_(loop, [] {}),
      adminState_(admin) {
  for (const auto& [name, upstream] : config().upstreams) {
    conf::Upstream named = upstream;
    named.name = name;
    auto pool = std::make_shared<UpstreamPool>(named);
    HealthChecker::start(loop_, buffers_, readBatch_, *pool, verdictListener(name));
    generation_->pools.emplace(name, std::move(pool));
  }
  inheritedListeners_ = std::move(inheritedListeners);
  uv_signal_init(loop_, &drainSignal_);
  uv_signal_init(loop_, &secondSignal_);
  uv_signal_init(loop_, &reopenSignal_);
  uv_signal_init(loop_, &reloadSignal_);
  uv_timer_init(loop_, &drainTimer_);
  drainSignal_.data = secondSignal_.data = reopenSignal_.data = reloadSignal_.data =
      drainTimer_.data = this;
}

// Runs after uv_run returned, i.e. after every close callback: nothing here is still in use.
Server::~Server() = default;

bool Server::start() {
  const bool worker = !inheritedListeners_.empty();
  uv_signal_start(&drainSignal_, &Server::onSignal, SIGTERM);
  uv_signal_start(&secondSignal_, &Server::onSignal, worker ? kForceStopSignal : SIGINT);
  uv_signal_start(&reopenSignal_, &Server::onReopenSignal, kReopenLogsSignal);
  uv_signal_start(&reloadSignal_, &Server::onReloadSignal, SIGHUP);
  surplusTimer_.start(kTrimPeriod);
  std::string logError;
  if (!accessLog_.open(config().log.access, logError)) {
    std::fprintf(stderr, "hoplite: cannot open the access log (/log/access) %s\n",
                 logError.c_str());
    beginShutdown();
    return false;
  }
  if (worker) {
    for (size_t i = 0; i < inheritedListeners_.size(); ++i) {
      if (!startInheritedListener(inheritedListeners_[i])) {
        beginShutdown();
        return false;
      }
      // What a reload compares the new `listen` with (one socket per address, in order).
      if (i < config().listen.size()) listeners_.back()->address = config().listen[i];
    }
    return true;
  }
  for (size_t i = 0; i < config().listen.size(); ++i) {
    if (!startListener(config().listen[i], conf::listensIpv6Only(config().listen, i))) {
      beginShutdown();
      return false;
    }
  }
  if (adminState_ != nullptr && config().admin.listen) {
    admin_ = std::make_unique<admin::AdminListener>(loop_, *adminState_);
    if (!admin_->start(*config().admin.listen)) {
      beginShutdown();
      return false;
    }
  }
  std::fprintf(stderr, "hoplite: ready\n");
  std::fflush(stderr);
  notifyReady(servingStatus(listenerTexts()));
  return true;
}

std::unique_ptr<Server::Listener> Server::newListener() {
  auto listener = std::make_unique<Listener>();
  listener->server = this;
  uv_tcp_init(loop_, &listener->handle);
  listener->handle.data = listener.get();
  listener->open = true;
  return listener;
}

Server::Listener& Server::addListener() {
  listeners_.push_back(newListener());
  listeners_.back()->index = listeners_.size() - 1;
  return *listeners_.back();
}

void Server::retireListener(std::unique_ptr<Listener> listener) {
  listener->open = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener->handle), &Server::onRetiredListenerClosed);
  retiredListeners_.push_back(std::move(listener));
}

void Server::onRetiredListenerClosed(uv_handle_t* handle) {
  Listener* closed = static_cast<Listener*>(handle->data);
  auto& retired = closed->server->retiredListeners_;
  std::erase_if(retired,
                [closed](const std::unique_ptr<Listener>& l) { return l.get() == closed; });
}

bool Server::startInheritedListener(int fd) {
  Listener& l = addListener();
  const int rc = uv_tcp_open(&l.handle, fd);
  if (rc != 0) {
    std::fprintf(stderr, "hoplite: cannot use the listening socket %d: %s\n", fd, uv_strerror(rc));
    ::close(fd);  // the handle did not take it
    return false;
  }
  return listenOn(l, "socket " + std::to_string(fd));
}

bool Server::startListener(const conf::HostPort& address, bool ipv6Only) {
  return bindListener(addListener(), address, ipv6Only);
}

bool Server::bindListener(Listener& l, const conf::HostPort& address, bool ipv6Only) {
  l.address = address;
  std::string shown;
  if (address.host.find(':') != std::string::npos) {
    shown.append("[").append(address.host).append("]");
  } else {
    shown.append(address.host);
  }
  shown.append(":").append(std::to_string(address.port));
  int rc = 0;
  if (worker_ != 0) {
    // A listener a reload added while workers run: every worker binds its own socket to it
    // with SO_REUSEPORT, as the supervisor bound them at start (proxy/worker_listeners.h).
    const int fd = bindReusePortSocket(address, ipv6Only);
    rc = fd < 0 ? uv_translate_sys_error(-fd) : uv_tcp_open(&l.handle, fd);
    if (fd >= 0 && rc != 0) ::close(fd);
  } else {
    struct sockaddr_storage bindAddress;
    if (!resolveListenAddress(loop_, address, bindAddress)) {
      std::fprintf(stderr, "hoplite: cannot resolve listen address %s\n", shown.c_str());
      return false;
    }
    rc = uv_tcp_bind(&l.handle, reinterpret_cast<const sockaddr*>(&bindAddress),
                     ipv6Only ? UV_TCP_IPV6ONLY : 0);
  }
  if (rc != 0) {
    std::fprintf(stderr, "hoplite: cannot listen on %s: %s\n", shown.c_str(), uv_strerror(rc));
    return false;
  }
  if (!listenOn(l, shown)) return false;
  struct sockaddr_storage bound;
  int length = sizeof bound;
  uv_tcp_getsockname(&l.handle, reinterpret_cast<sockaddr*>(&bound), &length);
  std::fprintf(stderr, "hoplite: listening on %s\n", addressText(bound).c_str());
  std::fflush(stderr);
  return true;
}

bool Server::listenOn(Listener& l, const std::string& shown) {
  int rc = 0;
#ifdef __linux__
  // Linux copies TCP_NODELAY from a listening socket to the sockets it accepts, so setting it
  // here saves a setsockopt per accepted connection (acceptOne).
  rc = uv_tcp_nodelay(&l.handle, 1);
#endif
  // On a socket that already listens (a worker's), listen(2) again only sets the backlog, the
  // same one. conf/ keeps it within an int.
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l.handle),
                   static_cast<int>(config().limits.listenBacklog), &Server::onConnection);
  }
  if (rc != 0) {
    std::fprintf(stderr, "hoplite: cannot listen on %s: %s\n", shown.c_str(), uv_strerror(rc));
    return false;
  }
  struct sockaddr_storage bound;
  int length = sizeof bound;
  uv_tcp_getsockname(&l.handle, reinterpret_cast<sockaddr*>(&bound), &length);
  l.port = portOf(bound);
  l.shown = addressText(bound);
  return true;
}

void Server::onConnection(uv_stream_t* stream, int status) {
  Listener& listener = *static_cast<Listener*>(stream->data);
  Server& server = *listener.server;
  if (status < 0) {
    std::fprintf(stderr, "hoplite: accept failed: %s\n", uv_strerror(status));
    return;
  }
  if (server.draining_ || !listener.open) return;
  if (server.openClients_ >= server.config().limits.maxConnections) {
    // Leave the connection un-accepted: libuv then stops polling this listener until uv_accept
    // is called again, which onClientClosed does once a slot is free.
    listener.acceptPending = true;
    return;
  }
  server.acceptOne(listener);
}

void Server::acceptOne(Listener& listener) {
  listener.acceptPending = false;
  auto socket = std::make_unique<Socket>(loop_, buffers_, readBatch_);
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&listener.handle), socket->stream()) != 0) {
    Socket::dispose(std::move(socket));
    return;
  }
#ifndef __linux__
  uv_tcp_nodelay(socket->tcp(), 1);  // on Linux, inherited from the listener (startListener)
#endif
  struct sockaddr_storage peerAddress;
  int length = sizeof peerAddress;
  std::memset(&peerAddress, 0, sizeof peerAddress);
  uv_tcp_getpeername(socket->tcp(), reinterpret_cast<sockaddr*>(&peerAddress), &length);
  policy::PeerInfo peer;
  // The text is formatted once here, not per request in policy::applyForwarded.
  setPeerAddress(peerAddress, peer);
  peer.port = portOf(peerAddress);
  // Every connection a listener accepts has the listener's port: no getsockname per accept.
  peer.listenerPort = listener.port;
  peer.listenerName = listener.shown;
  ++openClients_;
  ++counters().accepted;
  generation_->metrics.connectionAccepted(listener.index);
  Session::start(*this, std::move(socket), peer, listener.index);
}

std::vector<std::string> Server::listenerTexts() const {
  std::vector<std::string> texts;
  for (const auto& listener : listeners_) texts.push_back(listener->shown);
  return texts;
}

void Server::onClientClosed(observe::WorkerMetrics& metrics, size_t listenerIndex) {
  metrics.connectionClosed(listenerIndex);
  --openClients_;
  if (draining_) return;
  for (auto& listener : listeners_) {
    if (openClients_ >= config().limits.maxConnections) break;
    if (listener->open && listener->acceptPending) acceptOne(*listener);
  }
}

void Server::registerConnection(ClientConnection* connection) {
  connections_.insert(connection);
}

void Server::unregisterConnection(ClientConnection* connection) {
  connections_.erase(connection);
  heapTrimmer_.connectionFreed();
  finishShutdownIfDone();
}

void Server::onSignal(uv_signal_t* handle, int signum) {
  Server& server = *static_cast<Server*>(handle->data);
  const bool worker = !server.inheritedListeners_.empty();
  if (worker && signum == kForceStopSignal) {
    server.beginShutdown();
    server.onDrainTimeout();
    return;
  }
  if (server.stopping_) {
    // A worker's repeated SIGTERM is one request sent twice (by its supervisor and, say, a
    // service manager signalling the whole group); the supervisor sends kForceStopSignal to hurry.
    if (worker) return;
    // A second signal: wait for neither the shutdown_delay nor the drain.
    server.beginShutdown();
    server.onDrainTimeout();
    return;
  }
  server.requestStop(signum);
}

void Server::requestStop(int signum) {
  stopping_ = true;
  const conf::Duration& delay = config().timeouts.shutdownDelay;
  const std::string status = stoppingStatus(delay);
  notifyStoppingIfMain(status);
  if (!delay) {
    beginShutdown();
    return;
  }
  // The admin /healthz says "draining" from now on (stopping()); everything else goes on as usual
  // until the delay ends, so that a load balancer's health check takes hoplite out of its pool
  // before new connections are refused.
  if (inheritedListeners_.empty()) {
    std::fprintf(stderr, "hoplite: %s: %s\n", signum == SIGTERM ? "SIGTERM" : "SIGINT",
                 status.c_str());
    std::fflush(stderr);
  }
  delayTimer_.start(*delay);
}

// A worker is not the process its service manager started: only its supervisor tells it.
void Server::notifyStoppingIfMain(std::string_view status) const {
  if (inheritedListeners_.empty()) notifyStopping(status);
}

void Server::notifyStatusIfMain(std::string_view status) const {
  if (inheritedListeners_.empty()) notifyStatus(status);
}

void Server::onReopenSignal(uv_signal_t* handle, int /*signum*/) {
  Server& server = *static_cast<Server*>(handle->data);
  std::string error;
  // Every process has its own fd 2: each worker reopens it as its supervisor does.
  if (!observe::openErrorLog(server.config().log.errors, error)) {
    std::fprintf(stderr,
                 "hoplite: cannot reopen the error log (/log/errors) %s; still writing to the "
                 "file open before\n",
                 error.c_str());
    error.clear();
  }
  if (!server.accessLog_.reopen(error)) {
    std::fprintf(stderr,
                 "hoplite: cannot reopen the access log (/log/access) %s; still writing "
                 "to the file open before\n",
                 error.c_str());
    return;
  }
  std::fprintf(stderr, "hoplite: access log reopened\n");
  std::fflush(stderr);
}

void Server::beginShutdown() {
  if (draining_) return;
  stopping_ = true;
  draining_ = true;
  delayTimer_.close();  // the shutdown_delay is over, if there was one
  for (auto& listener : listeners_) {
    if (!listener->open) continue;
    listener->open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->handle), &Server::onHandleClosed);
  }
  for (auto& [name, pool] : generation_->pools) pool->closeAll();
  if (config().timeouts.shutdownDrain) {
    uv_timer_start(
        &drainTimer_, [](uv_timer_t* t) { static_cast<Server*>(t->data)->onDrainTimeout(); },
        static_cast<uint64_t>(config().timeouts.shutdownDrain->count()), 0);
  }
  // Copy: beginDrain may close a connection, though it is only unregistered on a later turn.
  const std::vector<ClientConnection*> snapshot(connections_.begin(), connections_.end());
  for (ClientConnection* connection : snapshot) connection->beginDrain();
  finishShutdownIfDone();
}

void Server::onDrainTimeout() {
  uv_timer_stop(&drainTimer_);
  if (!connections_.empty()) ++counters().timeoutShutdownDrain;
  const std::vector<ClientConnection*> snapshot(connections_.begin(), connections_.end());
  for (ClientConnection* connection : snapshot) connection->forceClose();
}

HealthChecker::VerdictListener Server::verdictListener(const std::string& upstream) {
  return [this, upstream](size_t server, policy::HealthVerdict verdict) {
    publishVerdict(upstream, server, verdict);
  };
}

void Server::publishVerdict(const std::string& upstream, size_t server,
                            policy::HealthVerdict verdict) {
  const observe::MetricLayout& layout = *generation_->layout;
  const size_t index = layout.firstServer[layout.upstreamIndex(upstream)] + server;
  generation_->metrics.checkedDown(index, verdict == policy::HealthVerdict::Down);
}

void Server::trimSurplus() {
  // Live for /metrics, within a period.
  counters().logLinesDropped = accessLog_.droppedLines();
  buffers_.trimSurplus();
  for (auto& [name, pool] : generation_->pools) pool->trimSurplus();
  // systemctl status shows what is open, updated once a period (a single process only: a worker's
  // supervisor speaks for it).
  if (adminState_ != nullptr && !stopping_) {
    const admin::AdminState::OpenCounts open = adminState_->openCounts();
    notifyStatusIfChanged(
        liveStatus(servingStatus(listenerTexts()), open.connections, open.tunnels), lastStatus_);
  }
  surplusTimer_.start(kTrimPeriod);
}

void Server::finishShutdownIfDone() {
  if (!draining_ || finished_ || !connections_.empty()) return;
  finished_ = true;
  // Sessions may still have parked upstream connections while finishing.
  for (auto& [name, pool] : generation_->pools) pool->closeAll();
  // Ignored from now on rather than fatal (see closeStopSignal).
  closeStopSignal(&drainSignal_, &Server::onHandleClosed);
  closeStopSignal(&secondSignal_, &Server::onHandleClosed);
  closeStopSignal(&reopenSignal_, &Server::onHandleClosed);  // ignored, not fatal, from now on
  closeStopSignal(&reloadSignal_, &Server::onHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&drainTimer_), &Server::onHandleClosed);
  idleSweeper_.close();
  heapTrimmer_.close();
  surplusTimer_.close();
  accessLog_.close();
  counters().logLinesDropped = accessLog_.droppedLines();
  // /healthz said "draining" until now; the admin listener goes with the last connection.
  if (admin_) admin_->close();
  readBatch_.close();
}

// Listener, signal and timer memory belongs to the Server, which outlives the loop run.
void Server::onHandleClosed(uv_handle_t* /*handle*/) {}

}  // namespace hoplite::proxy
