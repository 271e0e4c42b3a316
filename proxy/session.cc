#include "proxy/session.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <utility>

#include "policy/balance.h"
#include "policy/response_rewrite.h"
#include "policy/routing.h"
#include "proxy/server.h"
#include "proxy/tunnel.h"
#include "proxy/upstream/upstream_pool.h"

namespace hoplite::proxy {

namespace {

using parser::Framing;
using parser::ParseStatus;

// How long a closing connection keeps discarding client input after its last response, so that
// the client reads that response rather than a reset (nginx lingering_timeout).
constexpr std::chrono::milliseconds kLingerTimeout{2000};

// "1a\r\n": the size line of one chunk of a re-chunked body (RFC 9112 §7.1), built in `out`.
// The chunk is then written as three pieces (size line, bytes, CRLF) without copying the bytes.
using ChunkSizeBuffer = char[20];
std::string_view chunkSizeLine(size_t size, ChunkSizeBuffer& out) {
  char* const end = out + sizeof out;
  char* p = end;
  *--p = '\n';
  *--p = '\r';
  do {
    *--p = "0123456789abcdef"[size & 15];
    size >>= 4;
  } while (size != 0);
  return std::string_view(p, static_cast<size_t>(end - p));
}

constexpr std::string_view kCrlf = "\r\n";

// The access log's reason for a request the parser refused, by the status it gets.
std::string_view parseErrorCode(uint16_t status) {
  switch (status) {
    case 405:
      return "method_not_allowed";  // CONNECT: hoplite is not a forward proxy
    case 413:
      return "body_too_large";
    case 431:
      return "header_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "version_not_supported";
    default:
      return "bad_request";
  }
}

// Milliseconds from `startNs` (uv_hrtime) to now.
double millisecondsSince(uint64_t startNs) {
  return static_cast<double>(uv_hrtime() - startNs) / 1e6;
}

constexpr std::string_view kLastChunk = "0\r\n\r\n";

parser::ParserLimits requestLimits(const conf::Limits& limits) {
  parser::ParserLimits out;
  out.maxHeaderBytes = limits.maxHeaderBytes;
  out.maxHeaderCount = limits.maxHeaderCount;
  out.maxBodyBytes = limits.maxBodyBytes;
  return out;
}

parser::ParserLimits responseLimits(const conf::Limits& limits) {
  parser::ParserLimits out;
  out.maxHeaderBytes = limits.maxHeaderBytes;
  out.maxHeaderCount = limits.maxHeaderCount;
  out.maxBodyBytes = 0;  // responses are streamed, never limited
  return out;
}

}  // namespace

void Session::start(Server& server, std::unique_ptr<Socket> client, const policy::PeerInfo& peer,
                    size_t listener) {
  // Owned by itself from here on: freed in the last timer close callback (onTimerClosed).
  new Session(server, std::move(client), peer, listener);
}

Session::Session(Server& server, std::unique_ptr<Socket> client, const policy::PeerInfo& peer,
                 size_t listener)
    : server_(server),
      generation_(server.generation()),
      client_(std::move(client)),
      connector_(server.loop(), server.buffers(), server.readBatch(), *this),
      clientTimer_(
          server.loop(), [this] { onClientTimeout(); }, [this] { onTimerClosed(); }),
      upstreamTimer_(
          server.loop(), [this] { onUpstreamTimeout(); }, [this] { onTimerClosed(); }),
      peer_(peer),
      listener_(static_cast<uint16_t>(listener)),
      peerTrusted_(policy::isTrustedPeer(peer, generation_->config->forwarded)),
      requestParser_(requestLimits(generation_->config->limits)) {
  server_.registerConnection(this);
  client_->setHandler(this);
  requestParser_.setBodyHandler([this](std::string_view bytes) { onRequestBody(bytes); });
  enterPhase(Phase::AwaitingRequestHead);
  updateReadState();
}

Session::~Session() {
  assert(phase_ == Phase::Closing && openHandles_ == 0);
  server_.unregisterConnection(this);
}

void Session::close(const char* reason) {
  if (phase_ == Phase::Closing) return;
  if (server_.debugLog())
    std::fprintf(stderr, "hoplite: session %p closed: %s\n", static_cast<void*>(this), reason);
  if (exchange_.started && !exchange_.logged) {
    logExchange(exchange_.cutError.empty() ? std::string_view("connection_closed")
                                           : exchange_.cutError);
  }
  phase_ = Phase::Closing;
  if (client_) {
    Socket::dispose(std::move(client_));
    server_.onClientClosed(generation_->metrics, listener_);
  }
  dropUpstream();
  clientTimer_.close();
  upstreamTimer_.close();
}

Session::ExchangeFacts& Session::facts() {
  if (!exchange_.facts) exchange_.facts = std::make_unique<ExchangeFacts>();
  return *exchange_.facts;
}

Session::ExchangeFacts* Session::loggedFacts() {
  return server_.accessLog().enabled() ? &facts() : nullptr;
}

std::string_view Session::requestId() const {
  return exchange_.facts ? exchange_.facts->requestId.view() : std::string_view();
}

void Session::startRecord() {
  exchange_.started = true;
  const uint64_t headBytes = std::exchange(headBytes_, 0);
  // One clock read per exchange, for its duration (the metrics' and the access log's).
  if (observe::kMetricsRecorded || server_.accessLog().enabled()) exchange_.startNs = uv_hrtime();
  ExchangeFacts* facts = loggedFacts();
  if (facts == nullptr) return;  // nothing on the hot path that nobody reads
  observe::ExchangeRecord& record = facts->record;
  record.startUnixMs = observe::unixMillisecondsNow();
  record.bytesIn = headBytes;
  const parser::RequestHead& request = exchange_.request;
  record.method = request.method;
  record.host = request.host;
  record.target = request.target;
  record.versionMajor = request.versionMajor;
  record.versionMinor = request.versionMinor;
  for (const parser::HeaderField& field : request.headers) {
    if (parser::equalsIgnoreCase(field.name, "User-Agent")) {
      record.userAgent = field.value;
      break;
    }
  }
}

void Session::logExchange(std::string_view error) {
  if (exchange_.logged) return;
  exchange_.logged = true;
  countExchange(error);
  observe::AccessLog& log = server_.accessLog();
  if (!log.enabled()) return;
  ExchangeFacts& facts = this->facts();
  observe::ExchangeRecord& record = facts.record;
  if (!exchange_.started) {
    // Refused before its head was complete: what is known is the time, the peer and the bytes.
    record.startUnixMs = observe::unixMillisecondsNow();
    record.bytesIn = headBytes_;
    headBytes_ = 0;
  } else {
    record.durationMs = millisecondsSince(exchange_.startNs);
  }
  record.requestId = facts.requestId.view();
  record.clientAddress = peer_.addressText;
  record.clientPort = peer_.port;
  record.listener = peer_.listenerName;
  record.error = error;
  if (config().log.format == conf::LogSettings::Format::Elb) {
    observe::appendElbLine(log.buffer(), record);
  } else {
    observe::appendJsonLine(log.buffer(), record);
  }
  log.lineAdded();
}

void Session::countExchange(std::string_view error) {
  observe::WorkerMetrics& metrics = generation_->metrics;
  if (exchange_.route == nullptr) {
    // Refused before routing: a bad head, a header timeout, no route for the host and path.
    if (exchange_.clientStatus != 0) metrics.rejected(exchange_.clientStatus, error);
    return;
  }
  if constexpr (observe::kMetricsRecorded) {
    metrics.exchangeDone(routeIndex(), exchange_.clientStatus,
                         (uv_hrtime() - exchange_.startNs) / 1000);
  }
}

size_t Session::routeIndex() const {
  return static_cast<size_t>(exchange_.route - config().routes.data());
}

size_t Session::serverMetricIndex() const {
  const observe::MetricLayout& layout = generation_->metrics.layout();
  return layout.firstServer[layout.routeUpstream[routeIndex()]] + exchange_.server;
}

void Session::countUpgrade(observe::UpgradeResult result) {
  const observe::MetricLayout& layout = generation_->metrics.layout();
  // Only websocket has handshake rules, so only it can be Rejected; a Refused protocol is not
  // allowed here, and is counted as "other" even if another route allows it.
  const std::string_view protocol = result == observe::UpgradeResult::Rejected ? "websocket"
                                    : result == observe::UpgradeResult::Refused
                                        ? std::string_view("other")
                                        : std::string_view(exchange_.upgrade.protocol);
  generation_->metrics.upgrade(routeIndex(), layout.protocolIndex(protocol), result);
}

void Session::cutExchange(std::string_view error, const char* reason) {
  if (exchange_.cutError.empty()) exchange_.cutError = error;
  close(reason);
}

void Session::onTimerClosed() {
  if (--openHandles_ > 0) return;
  // The last handle of this session is closed: nothing refers to it any more.
  std::unique_ptr<Session> self(this);
}

void Session::dropUpstream() {
  connector_.cancel();
  exchange_.lease.reset();
  if (upstream_) Socket::dispose(std::move(upstream_));
  if (feedingResponse_) {
    responseParserDropped_ = true;  // processUpstreamInput destroys it once feed() returns
  } else {
    responseParser_.reset();
  }
}

void Session::resetExchange() {
  // The serialised upstream request is the one long string an exchange keeps; the request
  // head's own strings are moved in from the parser and out again.
  std::string().swap(exchange_.upstreamRequest.head);
  exchange_ = Exchange{};
}

void Session::beginDrain() {
  if (phase_ == Phase::AwaitingRequestHead && requestParser_.betweenMessages() &&
      client_->buffered() == 0) {
    close("draining an idle connection");
  }
  // Otherwise the response in flight carries Connection: close (server_.draining()).
}

void Session::forceClose() {
  cutExchange("shutdown_drain", "shutdown drain expired");
}

void Session::reloaded() {
  if (phase_ != Phase::AwaitingRequestHead || !requestParser_.betweenMessages() ||
      client_->buffered() != 0) {
    return;  // in an exchange: it moves when the exchange ends (enterPhase)
  }
  adoptCurrentGeneration();
  if (listenerRemoved_) close("its listener was removed by a reload");
}

void Session::adoptCurrentGeneration() {
  const std::shared_ptr<Generation>& current = server_.generation();
  if (generation_ == current || listenerRemoved_) return;
  // The metrics' listener label is the bound address, which a listener keeps across reloads.
  const std::vector<std::string>& listeners = current->layout->listeners;
  const auto found = std::find(listeners.begin(), listeners.end(), peer_.listenerName);
  if (found == listeners.end()) {
    listenerRemoved_ = true;
    return;
  }
  generation_ = current;
  listener_ = static_cast<uint16_t>(found - listeners.begin());
  peerTrusted_ = policy::isTrustedPeer(peer_, config().forwarded);
  if (requestParser_.betweenMessages()) {
    requestParser_.restartWithLimits(requestLimits(config().limits));
  }
}

// ---------------------------------------------------------------------------------------------
// Phases, timers and backpressure

void Session::enterPhase(Phase next) {
  if (phase_ == Phase::Closing) return;
  phase_ = next;
  if (next == Phase::AwaitingRequestHead) {
    upstreamTimer_.stop();
    resetExchange();
    // The exchange that ended let go of its route: the next request sees a reload.
    adoptCurrentGeneration();
    exchange_.closeAfter = listenerRemoved_;
  }
  const conf::Timeouts& global = config().timeouts;
  switch (next) {
    case Phase::AwaitingRequestHead:
      // Freed now rather than when the next response head replaces it: the same one free per
      // exchange, but an idle client no longer holds the last head.
      std::string().swap(heldClientHead_);
      exchange_.timeouts = global;
      // client_header runs from accept, or from the first byte of a later request; between
      // keep-alive requests client_idle runs instead.
      if (exchangesDone_ == 0 || client_->buffered() > 0 || !requestParser_.betweenMessages()) {
        armClientTimer(ClientTimer::Header);
      } else {
        armClientTimer(ClientTimer::Idle);
      }
      break;
    case Phase::ConnectingUpstream:
      armClientTimer(ClientTimer::None);
      upstreamTimer_.start(exchange_.timeouts.upstreamConnect);
      break;
    case Phase::ForwardingRequestBody:
      armClientTimer(ClientTimer::Body);
      upstreamTimer_.start(exchange_.timeouts.upstreamResponse);
      break;
    case Phase::AwaitingResponseHead:
    case Phase::AwaitingUpgradeResponse:
    case Phase::StreamingResponse:
      armClientTimer(ClientTimer::None);
      upstreamTimer_.start(exchange_.timeouts.upstreamResponse);
      break;
    case Phase::FlushingBeforeClose:
      upstreamTimer_.stop();
      armClientTimer(ClientTimer::SendStall);
      break;
    case Phase::LingeringClose:
      upstreamTimer_.stop();
      armClientTimer(ClientTimer::Linger);
      break;
    case Phase::Closing:
      break;
  }
}

void Session::armClientTimer(ClientTimer kind) {
  clientTimerKind_ = kind;
  const conf::Timeouts& global = config().timeouts;
  switch (kind) {
    case ClientTimer::None:
      clientTimer_.stop();
      break;
    case ClientTimer::Header:
      clientTimer_.start(global.clientHeader);
      break;
    case ClientTimer::Idle:
      clientTimer_.start(global.clientIdle);
      break;
    case ClientTimer::Body:
      clientTimer_.start(exchange_.timeouts.clientBody);
      break;
    case ClientTimer::SendStall:
      // A client that reads nothing of a response for client_idle is as idle as one that sends
      // nothing between requests.
      clientTimer_.start(global.clientIdle);
      break;
    case ClientTimer::Linger:
      clientTimer_.start(kLingerTimeout);
      break;
  }
}

void Session::updateReadState() {
  if (phase_ == Phase::Closing) return;
  bool wantClient = false;
  bool wantUpstream = false;
  switch (phase_) {
    case Phase::AwaitingRequestHead:
    case Phase::FlushingBeforeClose:
    case Phase::LingeringClose:
      wantClient = !clientSentEof_;
      break;
    case Phase::ConnectingUpstream:
      // As while a response is awaited: the client stays readable (a stop now and a restart
      // after the connect cost two epoll_ctl calls per request), and what arrives waits unparsed
      // in the read buffer, which bounds it; an EOF is remembered. The connector reads the
      // upstream from the moment its connect is issued (upstream::Connector).
      wantClient = !clientSentEof_ && client_->buffered() < Socket::kReadBufferBytes;
      wantUpstream = true;
      break;
    case Phase::ForwardingRequestBody:
      wantClient = !clientSentEof_ && flowAllows(*client_, *upstream_);
      // Also read the upstream: an interim 100 Continue or an early final response may come.
      wantUpstream = flowAllows(*upstream_, *client_);
      break;
    case Phase::AwaitingResponseHead:
    case Phase::StreamingResponse:
      // The client stays readable while its request is answered: stopping and restarting it
      // cost two epoll_ctl calls per request. What arrives (pipelined requests, the rest of a
      // body after an early response) waits unparsed in the read buffer, which bounds it; an EOF
      // is remembered for when the response is done.
      wantClient = !clientSentEof_ && client_->buffered() < Socket::kReadBufferBytes;
      wantUpstream = flowAllows(*upstream_, *client_);
      break;
    case Phase::AwaitingUpgradeResponse:
      // Held client bytes accumulate up to the read buffer's capacity (64 KiB), then close.
      wantClient = !clientSentEof_;
      wantUpstream = flowAllows(*upstream_, *client_);
      break;
    case Phase::Closing:
      return;
  }
  client_->setReading(wantClient);
  if (upstream_) upstream_->setReading(wantUpstream);

  // A gap timer measures the peer, not our own pauses: while we do not read a side because the
  // other one is slow, that side's timer waits, and the slow side is timed instead.
  if (phase_ == Phase::ForwardingRequestBody) {
    if (!wantClient) {
      if (clientTimerKind_ == ClientTimer::Body) armClientTimer(ClientTimer::None);
    } else if (clientTimerKind_ == ClientTimer::None) {
      armClientTimer(ClientTimer::Body);
    }
  }
  if (phase_ == Phase::StreamingResponse || phase_ == Phase::AwaitingResponseHead ||
      phase_ == Phase::AwaitingUpgradeResponse) {
    if (!wantUpstream) {
      upstreamTimer_.stop();
      if (clientTimerKind_ != ClientTimer::SendStall) armClientTimer(ClientTimer::SendStall);
    } else {
      if (clientTimerKind_ == ClientTimer::SendStall) armClientTimer(ClientTimer::None);
      if (!upstreamTimer_.active()) upstreamTimer_.start(exchange_.timeouts.upstreamResponse);
    }
  }
}

bool Session::writeClient(std::string_view a, std::string_view b, std::string_view c) {
  if (!client_) return false;
  // A held response head leaves together with the first body bytes: one writev, not two.
  if (ExchangeFacts* facts = loggedFacts()) {
    facts->record.bytesOut += heldClientHead_.size() + a.size() + b.size() + c.size();
  }
  const int rc = client_->write({heldClientHead_, a, b, c});
  heldClientHead_.clear();
  if (rc < 0) {
    cutExchange("client_write_failed", "client write failed");
    return false;
  }
  if (rc == Socket::kWriteSent && clientTimerKind_ == ClientTimer::SendStall) {
    armClientTimer(ClientTimer::SendStall);  // the client makes progress
  }
  return true;
}

bool Session::flushUpstreamHead() {
  if (!exchange_.upstreamHeadHeld) return true;
  return writeUpstream({});
}

bool Session::flushClientHead() {
  if (heldClientHead_.empty()) return true;
  return writeClient({});
}

bool Session::writeUpstream(std::string_view a, std::string_view b, std::string_view c) {
  if (!upstream_) return false;
  std::string_view head;
  if (exchange_.upstreamHeadHeld) {
    head = exchange_.upstreamRequest.head;
    exchange_.upstreamHeadHeld = false;
  }
  const int rc = upstream_->write({head, a, b, c});
  if (rc < 0) {
    onUpstreamFailure("write", rc);
    return false;
  }
  if (rc == Socket::kWriteSent && phase_ == Phase::ForwardingRequestBody) {
    upstreamTimer_.start(exchange_.timeouts.upstreamResponse);  // the upstream makes progress
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Request side

void Session::processClientInput() {
  while (phase_ == Phase::AwaitingRequestHead || phase_ == Phase::ForwardingRequestBody) {
    const bool inHead = phase_ == Phase::AwaitingRequestHead;
    const parser::FeedResult result = requestParser_.feed(client_->data());
    if (phase_ == Phase::Closing) return;  // the body handler's write failed
    client_->consume(result.consumed);
    if (inHead) {
      headBytes_ += result.consumed;
    } else {
      if (ExchangeFacts* facts = loggedFacts()) facts->record.bytesIn += result.consumed;
    }
    if (result.status == ParseStatus::NeedMore) break;
    if (result.status == ParseStatus::HeadComplete) {
      onRequestHead();
    } else if (result.status == ParseStatus::MessageComplete) {
      onRequestComplete();
    } else {
      const parser::ParseError& error = requestParser_.error();
      // Read for this request and refused with it: the access log counts them in bytes_in.
      if (inHead) headBytes_ += client_->buffered();
      respondError(error.status, parseErrorCode(error.status), error.reason);
      return;
    }
  }
  if (!flushUpstreamHead()) return;  // the body bytes so far did not bring it along
  if (phase_ == Phase::AwaitingRequestHead && clientSentEof_) {
    close("client closed");  // the EOF seen while a response was in flight
    return;
  }
  if (phase_ == Phase::ForwardingRequestBody && clientSentEof_) {
    // The EOF came while connecting, and the bytes before it did not finish the request body:
    // the request is cut short, as an EOF inside a body always is (onSocketEof).
    cutExchange("client_closed", "client closed inside the request");
    return;
  }
  updateReadState();
}

void Session::onRequestHead() {
  ++server_.counters().requests;
  const conf::Config& config = *generation_->config;
  exchange_ = Exchange{};
  // Moved, not copied (a copy costs an allocation per field name and value): the request parser
  // never reads its head again after reporting HeadComplete.
  exchange_.request = std::move(requestParser_.head());
  exchange_.timeouts = config.timeouts;
  const parser::RequestHead& request = exchange_.request;
  startRecord();
  if (!config.requestIdField.empty()) {
    const std::optional<std::string_view> kept =
        policy::keptRequestId(request.headers, config.requestIdField, peerTrusted_);
    if (kept) {
      facts().requestId.assign(*kept);
    } else {
      server_.requestIds().next(facts().requestId);
    }
  }

  exchange_.route = policy::selectRoute(config.routes, request.host, request.target);
  if (exchange_.route == nullptr) {
    respondError(404, "no_route", "no route for this host and path");
    return;
  }
  exchange_.timeouts = exchange_.route->timeouts.applyTo(config.timeouts);
  if (ExchangeFacts* facts = loggedFacts()) {
    facts->record.route = static_cast<size_t>(exchange_.route - config.routes.data());
    facts->record.upstream = exchange_.route->upstream;
    facts->record.routeName = exchange_.route->name;
  }
  exchange_.upgrade = policy::classifyUpgradeRequest(request, routeUpgradeSettings());
  if (exchange_.upgrade.kind == policy::UpgradeRequest::Kind::Refused) {
    countUpgrade(observe::UpgradeResult::Refused);
  }
  if (exchange_.upgrade.kind == policy::UpgradeRequest::Kind::Invalid) {
    countUpgrade(observe::UpgradeResult::Rejected);
    respondError(exchange_.upgrade.status != 0 ? exchange_.upgrade.status : 400, "bad_upgrade",
                 exchange_.upgrade.reason, exchange_.upgrade.responseFields);
    return;
  }
  if (exchange_.upgrade.kind == policy::UpgradeRequest::Kind::Granted) {
    // Honour Upgrade only on bodyless requests (h2o): then the request is complete at the end
    // of its head, and every later byte is the new protocol's. "Content-Length: 0" is no body
    // (RFC 9112 §6.3), and policy grants it; llhttp treats it as bodyless too and stops at the
    // end of the head. Forward it as what it is, a request without a body, so that the upstream
    // sees no framing field at all on its GET.
    const bool bodyless = request.framing == Framing::None ||
                          (request.framing == Framing::Length && request.contentLength == 0);
    if (!bodyless) {
      countUpgrade(observe::UpgradeResult::Rejected);
      respondError(400, "bad_upgrade", "an upgrade request must not have a body");
      return;
    }
    exchange_.request.framing = Framing::None;
  }
  exchange_.upstreamRequest = policy::buildUpstreamRequest(
      request, exchange_.upgrade, peer_, config.forwarded, config.requestIdField, requestId());
  exchange_.pool = generation_->pools.at(exchange_.route->upstream);
  connectUpstream(/*allowReuse=*/true);
}

const conf::UpgradeSettings& Session::routeUpgradeSettings() const {
  return exchange_.route->upgrade ? *exchange_.route->upgrade : config().upgrade;
}

void Session::connectUpstream(bool allowReuse) {
  exchange_.reusedUpstream = false;
  connector_.start(exchange_.pool, allowReuse,
                   policy::requestKeyHash(exchange_.pool->settings().hashKey, exchange_.request,
                                          peer_.addressText));
}

void Session::onServerAttempt(size_t server) {
  exchange_.server = server;
  // Each server gets its own upstream_connect period.
  enterPhase(Phase::ConnectingUpstream);
}

void Session::onConnectIssued(size_t server, const struct sockaddr_storage* resolved) {
  if (ExchangeFacts* facts = loggedFacts()) {
    facts->connectStartNs = uv_hrtime();
    if (resolved != nullptr) {
      facts->resolvedAddress = addressText(*resolved);
      facts->record.upstreamAddress = facts->resolvedAddress;
    } else {
      facts->record.upstreamAddress = exchange_.pool->serverText(server);
    }
    facts->record.reused = false;
  }
}

void Session::onUpstreamConnected(std::unique_ptr<Socket> socket,
                                  std::unique_ptr<parser::ResponseParser> parser, size_t server,
                                  bool reused, UpstreamPool::ServerLease lease) {
  upstream_ = std::move(socket);
  exchange_.lease = std::move(lease);
  upstream_->setHandler(this);
  exchange_.server = server;
  if (reused) {
    // The connection's own parser, at its message boundary (onUpstreamReady sets the body
    // handler); the session had none of its own between exchanges.
    if (parser) responseParser_ = std::move(parser);
    exchange_.reusedUpstream = true;
    if (ExchangeFacts* facts = loggedFacts()) {
      facts->record.reused = true;
      facts->record.upstreamAddress = exchange_.pool->serverText(server);
    }
    ++server_.counters().upstreamReused;
    onUpstreamReady();
    return;
  }
  ++server_.counters().upstreamConnects;
  if constexpr (observe::kMetricsRecorded) {
    generation_->metrics.connected(serverMetricIndex(), observe::unixMillisecondsNow());
  }
  if (ExchangeFacts* facts = loggedFacts()) {
    facts->record.upstreamConnectMs = millisecondsSince(facts->connectStartNs);
  }
  onUpstreamReady();
  if (phase_ == Phase::ForwardingRequestBody) {
    processClientInput();
  } else {
    updateReadState();
  }
}

void Session::onServerFailed(size_t server, observe::ConnectFailure reason, int /*status*/,
                             bool /*timedOut*/, bool ejected, bool /*another*/) {
  exchange_.server = server;
  // As when the failed socket was the session's own: a parser left from an earlier connection
  // is not carried to the next server's.
  if (!feedingResponse_) responseParser_.reset();
  ++server_.counters().upstreamConnectFailures;
  if constexpr (observe::kMetricsRecorded) {
    generation_->metrics.connectFailed(serverMetricIndex(), reason, observe::unixMillisecondsNow());
    if (ejected) generation_->metrics.ejected(serverMetricIndex());
  }
}

void Session::onNoConnection(upstream::ConnectOutcome last) {
  const upstream::ConnectAnswer answer = upstream::answerFor(last);
  respondError(answer.status, answer.error, std::string(answer.detail));
}

// The upstream connection is ours: send the head; the body (if any) follows as it is parsed.
void Session::onUpstreamReady() {
  ExchangeFacts* facts = loggedFacts();
  if (observe::kMetricsRecorded || facts != nullptr) exchange_.requestSentNs = uv_hrtime();
  if (facts != nullptr) facts->record.requestSentMs = millisecondsSince(exchange_.startNs);
  // A reused connection brings the parser of its last response (it ended cleanly, at a message
  // boundary), as good as a new one; creating one per exchange cost allocations and llhttp_init.
  if (!responseParser_) {
    responseParser_ = std::make_unique<parser::ResponseParser>(responseLimits(config().limits));
  }
  responseParser_->setBodyHandler([this](std::string_view bytes) { onResponseBody(bytes); });
  responseParser_->expectResponseTo(exchange_.request.method);
  if (!exchange_.requestComplete) {
    // The head waits for the body bytes (or the end of the request) that processClientInput is
    // about to parse, so that both leave in one write: one segment and one read fewer upstream.
    exchange_.upstreamHeadHeld = true;
    enterPhase(Phase::ForwardingRequestBody);
    return;
  }
  if (!writeUpstream(exchange_.upstreamRequest.head)) return;
  // A retry of a request that was already complete (it had no body bytes).
  if (exchange_.upstreamRequest.bodyFraming == Framing::Chunked && !writeUpstream(kLastChunk))
    return;
  enterPhase(exchange_.upgrade.kind == policy::UpgradeRequest::Kind::Granted
                 ? Phase::AwaitingUpgradeResponse
                 : Phase::AwaitingResponseHead);
}

void Session::onRequestBody(std::string_view bytes) {
  // Bodies only flow while forwarding; a body being discarded (e.g. the parser reads on after an
  // early response) is dropped. Empty pieces would end a chunked body early.
  if (phase_ != Phase::ForwardingRequestBody || bytes.empty() || exchange_.upstreamBroken) return;
  exchange_.requestBodyBytesSent += bytes.size();
  if (exchange_.upstreamRequest.bodyFraming == Framing::Chunked) {
    ChunkSizeBuffer size;
    writeUpstream(chunkSizeLine(bytes.size(), size), bytes, kCrlf);
  } else {
    writeUpstream(bytes);
  }
}

void Session::onRequestComplete() {
  if (phase_ != Phase::ForwardingRequestBody) return;
  // Trailers are dropped: they never merge into the head, and the upstream gets a plain last chunk.
  if (exchange_.upstreamRequest.bodyFraming == Framing::Chunked && !exchange_.upstreamBroken) {
    if (!writeUpstream(kLastChunk)) return;
  } else if (!flushUpstreamHead()) {
    return;
  }
  exchange_.requestComplete = true;
  enterPhase(exchange_.upgrade.kind == policy::UpgradeRequest::Kind::Granted
                 ? Phase::AwaitingUpgradeResponse
                 : Phase::AwaitingResponseHead);
}

// ---------------------------------------------------------------------------------------------
// Response side

void Session::processUpstreamInput() {
  while (upstream_ && responseParser_ &&
         (phase_ == Phase::ForwardingRequestBody || phase_ == Phase::AwaitingResponseHead ||
          phase_ == Phase::AwaitingUpgradeResponse || phase_ == Phase::StreamingResponse)) {
    feedingResponse_ = true;
    const parser::FeedResult result = responseParser_->feed(upstream_->data());
    feedingResponse_ = false;
    if (responseParserDropped_) {
      responseParserDropped_ = false;
      responseParser_.reset();
    }
    if (phase_ == Phase::Closing || !upstream_) return;
    upstream_->consume(result.consumed);
    if (result.status == ParseStatus::NeedMore) {
      if (!flushClientHead()) return;
      break;
    }
    if (result.status == ParseStatus::HeadComplete) {
      onResponseHead();
    } else if (result.status == ParseStatus::MessageComplete) {
      if (!onResponseComplete()) return;
    } else {
      const parser::ParseError& error = responseParser_->error();
      std::fprintf(stderr, "hoplite: invalid response from upstream %s: %s\n",
                   exchange_.pool->name().c_str(), error.reason.c_str());
      if (!clientSawResponse()) {
        respondError(502, "invalid_response", "invalid response from upstream");
      } else {
        cutExchange("invalid_response", "invalid response body from upstream");
      }
      return;
    }
  }
  updateReadState();
}

void Session::onResponseHead() {
  const parser::ResponseHead& head = responseParser_->head();
  ExchangeFacts* facts = loggedFacts();
  if ((observe::kMetricsRecorded || facts != nullptr) &&
      (head.status >= 200 || head.status == 101)) {
    const uint64_t headerNs = uv_hrtime() - exchange_.requestSentNs;
    observe::WorkerMetrics& metrics = generation_->metrics;
    metrics.upstreamResponse(serverMetricIndex(), head.status);
    metrics.upstreamHeader(metrics.layout().routeUpstream[routeIndex()], headerNs / 1000);
    if (facts != nullptr) {
      facts->record.upstreamStatus = head.status;
      facts->record.upstreamHeaderMs = static_cast<double>(headerNs) / 1e6;
    }
    if (head.status >= 200 && exchange_.upgrade.kind == policy::UpgradeRequest::Kind::Granted) {
      countUpgrade(observe::UpgradeResult::NotSwitched);
    }
  }
  if (head.status == 101) {
    const policy::UpgradeResponse verdict =
        policy::classifyUpgradeResponse(exchange_.upgrade, head);
    if (verdict != policy::UpgradeResponse::Accepted || phase_ != Phase::AwaitingUpgradeResponse) {
      countUpgrade(observe::UpgradeResult::Invalid101);
      std::fprintf(stderr, "hoplite: invalid 101 from upstream %s\n",
                   exchange_.pool->name().c_str());
      respondError(502, "invalid_101", "invalid 101 response from upstream");
      return;
    }
    exchange_.upgradeAccepted = true;  // the tunnel starts at this head's MessageComplete
    return;
  }
  policy::ResponseContext context;
  context.requestMethod = exchange_.request.method;
  context.clientVersionMajor = exchange_.request.versionMajor;
  context.clientVersionMinor = exchange_.request.versionMinor;
  context.clientKeepAlive = exchange_.request.keepAlive;
  context.via = config().forwarded.via;
  context.upgradeAllow = routeUpgradeSettings().allow;
  context.requestIdName = config().requestIdField;
  context.requestId = requestId();
  if (head.status < 200) {
    // An interim response nobody asked for (a 100 without Expect, or an unknown 1xx) means the
    // upstream's idea of this exchange may differ from ours: do not reuse the connection.
    const bool expected =
        head.status == 103 || (head.status == 100 && exchange_.request.expectsContinue);
    if (!expected) exchange_.upstreamBroken = true;
    // Interim (100 Continue, 103): relayed unless the client speaks HTTP/1.0 (empty head).
    const policy::ClientResponse interim = policy::buildClientResponse(head, context);
    writeClient(interim.head);
    return;
  }
  if (phase_ == Phase::ForwardingRequestBody) {
    // A final response before the whole request body was read: relay it, stop reading the
    // request, never reuse either connection (the rest of the body is discarded by the lingering
    // close, never parsed as a request).
    exchange_.closeAfter = true;
    exchange_.upstreamBroken = true;
  }
  if (clientSentEof_ && phase_ == Phase::AwaitingUpgradeResponse) {
    exchange_.closeAfter = true;  // held bytes after an EOF are not served
  }
  context.forceClose = exchange_.closeAfter || server_.draining();
  const policy::ClientResponse response = policy::buildClientResponse(head, context);
  exchange_.clientFraming = response.bodyFraming;
  exchange_.closeAfter = exchange_.closeAfter || response.closeAfter ||
                         response.bodyFraming == Framing::UntilClose || server_.draining();
  exchange_.upstreamKeepAlive = head.keepAlive;
  exchange_.responseHeadSent = true;
  exchange_.clientStatus = head.status;
  if (facts != nullptr) facts->record.status = head.status;
  // Held until the first body bytes (or the end of this read, or of the response) so that both
  // leave in one write.
  heldClientHead_ = std::move(response.head);
  enterPhase(Phase::StreamingResponse);
}

void Session::onResponseBody(std::string_view bytes) {
  if (!exchange_.responseHeadSent || bytes.empty()) return;
  switch (exchange_.clientFraming) {
    case Framing::Chunked: {
      ChunkSizeBuffer size;
      writeClient(chunkSizeLine(bytes.size(), size), bytes, kCrlf);
      break;
    }
    case Framing::Length:
    case Framing::UntilClose:
      writeClient(bytes);
      break;
    case Framing::None:
      break;
  }
}

bool Session::onResponseComplete() {
  if (!exchange_.responseHeadSent) {
    if (exchange_.upgradeAccepted) {
      startTunnel();
      return false;
    }
    return true;  // an interim response ended; the final one follows on the same parser
  }
  if (exchange_.clientFraming == Framing::Chunked ? !writeClient(kLastChunk) : !flushClientHead())
    return false;
  logExchange({});
  upstreamTimer_.stop();
  // Never pool after an upgrade attempt, a framing problem, an early response, or leftovers.
  const bool reusable = exchange_.upstreamKeepAlive && exchange_.requestComplete &&
                        !exchange_.upstreamBroken &&
                        exchange_.upgrade.kind != policy::UpgradeRequest::Kind::Granted &&
                        upstream_->buffered() == 0 && !server_.draining();
  // Only a response that ended cleanly with the connection reusable leaves the parser at a
  // message boundary: it is parked with the connection, its head (which the client has)
  // released. Anything else gets a fresh parser on the next exchange.
  if (reusable) {
    responseParser_->releaseHead();
    responseParser_->setBodyHandler(nullptr);
    exchange_.pool->release(std::move(upstream_), std::move(responseParser_), exchange_.server);
    exchange_.lease.reset();
  } else {
    responseParser_.reset();
    Socket::dispose(std::move(upstream_));
  }
  if (exchange_.closeAfter || server_.draining()) {
    finishAndClose();
    return false;
  }
  ++exchangesDone_;
  // Bytes held behind a refused upgrade, or pipelined, are parsed now as the next request.
  enterPhase(Phase::AwaitingRequestHead);
  processClientInput();
  return false;
}

void Session::startTunnel() {
  policy::ResponseContext context;
  context.requestMethod = exchange_.request.method;
  context.clientVersionMajor = exchange_.request.versionMajor;
  context.clientVersionMinor = exchange_.request.versionMinor;
  context.clientKeepAlive = true;
  context.upgradeAccepted = true;
  context.via = config().forwarded.via;
  context.requestIdName = config().requestIdField;
  context.requestId = requestId();
  const policy::ClientResponse response =
      policy::buildClientResponse(responseParser_->head(), context);
  if (!writeClient(response.head)) return;
  std::unique_ptr<observe::TunnelRecord> tunnelRecord;
  ExchangeFacts* facts = loggedFacts();
  exchange_.clientStatus = 101;
  countUpgrade(observe::UpgradeResult::Granted);
  if (facts != nullptr) facts->record.status = 101;
  // Only the JSON log has tunnel lines: the elb format logs a WebSocket as its handshake, as
  // that load balancer did.
  if (facts != nullptr && config().log.format == conf::LogSettings::Format::Json) {
    // The handshake's facts, copied: the request head goes with this session.
    tunnelRecord = std::make_unique<observe::TunnelRecord>();
    tunnelRecord->requestId = facts->requestId.view();
    tunnelRecord->clientAddress = peer_.addressText;
    tunnelRecord->clientPort = peer_.port;
    tunnelRecord->host = exchange_.request.host;
    tunnelRecord->target = exchange_.request.target;
    tunnelRecord->route = facts->record.route;
    tunnelRecord->routeName = facts->record.routeName;
    tunnelRecord->upstreamAddress = facts->record.upstreamAddress;
    tunnelRecord->protocol = exchange_.upgrade.protocol;
    tunnelRecord->openedUnixMs = observe::unixMillisecondsNow();
    tunnelRecord->openedNs = uv_hrtime();
  }
  logExchange({});
  responseParser_.reset();
  Tunnel::start(server_, std::move(client_), std::move(upstream_), exchange_.timeouts.tunnelIdle,
                clientSentEof_,
                Tunnel::Labels{generation_, routeIndex(), listener_, std::move(exchange_.lease)},
                std::move(tunnelRecord));
  // The client slot moved to the tunnel with the socket: close() sees no client_ to release.
  close("upgraded to a tunnel");
}

// ---------------------------------------------------------------------------------------------
// Failures

bool Session::canRetry() const {
  // Only a reused connection that failed before any response byte, and only when the request can
  // be replayed from what we still have: its head, and no body byte sent yet.
  const bool replayable =
      exchange_.requestBodyBytesSent == 0 &&
      !(exchange_.requestComplete && exchange_.upstreamRequest.bodyFraming != Framing::None &&
        exchange_.upstreamRequest.bodyFraming != Framing::Length);
  return exchange_.reusedUpstream && !exchange_.retried && !exchange_.responseStarted &&
         replayable &&
         (phase_ == Phase::ForwardingRequestBody || phase_ == Phase::AwaitingResponseHead ||
          phase_ == Phase::AwaitingUpgradeResponse);
}

void Session::retryOnFreshConnection() {
  ++server_.counters().upstreamRetries;
  exchange_.retried = true;
  dropUpstream();
  connectUpstream(/*allowReuse=*/false);
}

void Session::onUpstreamFailure(const char* what, int status) {
  if (phase_ == Phase::Closing || phase_ == Phase::FlushingBeforeClose ||
      phase_ == Phase::LingeringClose)
    return;
  if (canRetry()) {
    retryOnFreshConnection();
    return;
  }
  if (phase_ == Phase::ConnectingUpstream || !clientSawResponse()) {
    // A reset or close before any response byte is the server's failure, as a refused connect
    // is (passive health).
    bool ejected = false;
    if (exchange_.pool && !exchange_.responseStarted) {
      ejected = exchange_.pool->markFailed(exchange_.server, uv_now(server_.loop()));
      if constexpr (observe::kMetricsRecorded) {
        if (ejected) generation_->metrics.ejected(serverMetricIndex());
      }
    }
    std::fprintf(stderr, "hoplite: upstream %s: %s failed: %s%s\n",
                 exchange_.pool ? exchange_.pool->name().c_str() : "?", what, uv_strerror(status),
                 ejected ? "; the server is ejected" : "");
    respondError(502, "upstream_failed", "upstream unreachable or failed");
    return;
  }
  cutExchange("upstream_failed", "upstream failed after the response head");
}

void Session::respondError(uint16_t status, std::string_view error, const std::string& detail,
                           std::span<const policy::ExtraField> extraFields) {
  if (phase_ == Phase::Closing) return;
  dropUpstream();
  if (clientSawResponse() || phase_ == Phase::FlushingBeforeClose ||
      phase_ == Phase::LingeringClose) {
    cutExchange(error, "error after the response head was sent");
    return;
  }
  heldClientHead_.clear();  // a final head not written yet gives way to the error response
  if (status >= 500) {
    ++server_.counters().errors5xx;
  } else {
    ++server_.counters().rejected4xx;
  }
  exchange_.responseHeadSent = true;
  // A request whose head was parsed gets its ID on hoplite's own answer too.
  std::vector<policy::ExtraField> fields(extraFields.begin(), extraFields.end());
  if (!requestId().empty()) fields.push_back({config().requestIdField, requestId()});
  exchange_.clientStatus = status;
  if (ExchangeFacts* facts = loggedFacts()) facts->record.status = status;
  if (!writeClient(policy::buildErrorResponse(status, detail, fields))) return;
  logExchange(error);
  finishAndClose();
}

bool Session::clientSawResponse() const {
  return exchange_.responseHeadSent && heldClientHead_.empty();
}

void Session::finishAndClose() {
  if (phase_ == Phase::Closing) return;
  if (phase_ == Phase::FlushingBeforeClose || phase_ == Phase::LingeringClose) return;
  dropUpstream();
  if (clientSendsNoMore() && client_->allWritten()) {
    // close(2) sends the FIN itself, after the bytes still in the kernel: no shutdown(2), and
    // no read of an EOF that nothing needs to wait for (see clientSendsNoMore).
    close("finished");
    return;
  }
  enterPhase(Phase::FlushingBeforeClose);
  const int rc = client_->shutdown();
  if (rc < 0) {
    close("shutdown failed");
    return;
  }
  if (rc == Socket::kShutdownSent) {
    onClientFinSent();
    return;
  }
  updateReadState();
}

bool Session::clientSendsNoMore() const {
  return clientSentEof_ ||
         (!exchange_.request.keepAlive && exchange_.requestComplete && client_->buffered() == 0);
}

void Session::onClientFinSent() {
  if (clientSendsNoMore()) {
    close("finished");
    return;
  }
  enterPhase(Phase::LingeringClose);
  updateReadState();
}

// ---------------------------------------------------------------------------------------------
// Socket events

void Session::onSocketRead(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  if (&socket == client_.get()) {
    switch (phase_) {
      case Phase::AwaitingRequestHead:
        if (clientTimerKind_ == ClientTimer::Idle) armClientTimer(ClientTimer::Header);
        processClientInput();
        return;
      case Phase::ForwardingRequestBody:
        armClientTimer(ClientTimer::Body);
        processClientInput();
        return;
      case Phase::FlushingBeforeClose:
      case Phase::LingeringClose:
        client_->consume(client_->buffered());
        return;
      default:
        // Held (upgrade) or pipelined bytes wait in the buffer, unparsed.
        updateReadState();
        return;
    }
  }
  if (&socket == upstream_.get()) {
    // The server answers: for passive health, a success (a connect alone is not one, so that
    // a server that accepts and hangs up is still ejected).
    if (!exchange_.responseStarted) exchange_.pool->markAlive(exchange_.server);
    exchange_.responseStarted = true;
    if (phase_ != Phase::ConnectingUpstream)
      upstreamTimer_.start(exchange_.timeouts.upstreamResponse);
    processUpstreamInput();
  }
}

void Session::onSocketBufferFull(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  if (&socket == client_.get() && phase_ == Phase::AwaitingUpgradeResponse) {
    cutExchange("client_sent_too_much", "more than 64 KiB held behind an upgrade request");
    return;
  }
  updateReadState();
}

void Session::onSocketEof(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  if (&socket == client_.get()) {
    switch (phase_) {
      case Phase::AwaitingUpgradeResponse:
        // A half-close behind an upgrade request: the held bytes still go through, and the
        // tunnel (or the refusal) carries the EOF on.
        clientSentEof_ = true;
        updateReadState();
        return;
      case Phase::FlushingBeforeClose:
        clientSentEof_ = true;  // close once our last bytes are out (onSocketShutdown)
        updateReadState();
        return;
      case Phase::ConnectingUpstream:
      case Phase::AwaitingResponseHead:
      case Phase::StreamingResponse:
        // Possibly a half-close after the request: the response still goes out, requests that
        // came before the EOF are still served, and the session ends when it needs more input
        // (processClientInput).
        clientSentEof_ = true;
        updateReadState();
        return;
      default:
        // Between requests this is a clean end; inside a request or while it is being answered
        // it aborts the exchange (and the upstream request with it).
        cutExchange("client_closed", "client closed");
        return;
    }
  }
  if (&socket != upstream_.get()) return;
  exchange_.upstreamBroken = true;
  if (!exchange_.responseStarted && canRetry()) {
    retryOnFreshConnection();
    return;
  }
  if (responseParser_ && exchange_.responseHeadSent) {
    // A close-delimited body ends here; any other body is truncated.
    const parser::FeedResult result = responseParser_->finish();
    if (result.status == ParseStatus::MessageComplete) {
      onResponseComplete();
      return;
    }
    cutExchange("upstream_closed", "upstream closed inside the response body");
    return;
  }
  onUpstreamFailure("read", UV_EOF);
}

void Session::onSocketError(Socket& socket, int status, const char* what) {
  if (phase_ == Phase::Closing) return;
  if (&socket == client_.get()) {
    cutExchange("client_reset", "client connection failed");
    return;
  }
  if (&socket != upstream_.get()) return;
  exchange_.upstreamBroken = true;
  if (std::strcmp(what, "write") == 0 && exchange_.responseStarted) {
    // The upstream stopped reading the request but is answering: let the response finish.
    return;
  }
  onUpstreamFailure(what, status);
}

void Session::onSocketWritten(Socket& socket) {
  if (phase_ == Phase::Closing) return;
  if (&socket == upstream_.get() && phase_ == Phase::ForwardingRequestBody) {
    upstreamTimer_.start(exchange_.timeouts.upstreamResponse);  // the upstream makes progress
  }
  if (&socket == client_.get() && clientTimerKind_ == ClientTimer::SendStall) {
    armClientTimer(ClientTimer::SendStall);  // the client makes progress
  }
  updateReadState();
}

// The connector is the handler of an upstream socket until it is connected.
void Session::onSocketConnected(Socket& /*socket*/) {}

void Session::onSocketShutdown(Socket& socket) {
  if (phase_ != Phase::FlushingBeforeClose || &socket != client_.get()) return;
  onClientFinSent();
}

void Session::onClientTimeout() {
  if (phase_ == Phase::Closing) return;
  Counters& counters = server_.counters();
  switch (clientTimerKind_) {
    case ClientTimer::Header:
      ++counters.timeoutClientHeader;
      if (requestParser_.betweenMessages() && client_->buffered() == 0 && exchangesDone_ > 0) {
        close("client_header expired");
      } else {
        respondError(408, "client_header_timeout", "request header timeout");
      }
      return;
    case ClientTimer::Idle:
      ++counters.timeoutClientIdle;
      close("client_idle expired");
      return;
    case ClientTimer::Body:
      ++counters.timeoutClientBody;
      respondError(408, "client_body_timeout", "request body timeout");
      return;
    case ClientTimer::SendStall:
      ++counters.timeoutClientIdle;
      cutExchange("client_timeout", "client stopped reading");
      return;
    case ClientTimer::Linger:
      close("linger expired");
      return;
    case ClientTimer::None:
      return;
  }
}

void Session::onUpstreamTimeout() {
  if (phase_ == Phase::Closing || phase_ == Phase::FlushingBeforeClose ||
      phase_ == Phase::LingeringClose)
    return;
  Counters& counters = server_.counters();
  if (phase_ == Phase::ConnectingUpstream) {
    ++counters.timeoutUpstreamConnect;
    connector_.connectTimedOut();
    return;
  }
  ++counters.timeoutUpstreamResponse;
  respondError(504, "upstream_response_timeout", "upstream response timeout");
}

}  // namespace hoplite::proxy
