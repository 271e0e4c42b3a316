// One client connection in HTTP mode: reads requests through parser::RequestParser, forwards
// them upstream as policy/ re-serialised them, relays responses, and hands the connection to a
// Tunnel after an accepted 101.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "conf/config.h"
#include "parser/http_message.h"
#include "parser/message_parser.h"
#include "policy/forwarded.h"
#include "policy/request_id.h"
#include "policy/request_rewrite.h"
#include "policy/upgrade.h"
#include "proxy/client_connection.h"
#include "proxy/generation.h"
#include "proxy/observe/exchange_record.h"
#include "proxy/observe/metric_layout.h"
#include "proxy/slab_pool.h"
#include "proxy/socket.h"
#include "proxy/timer.h"
#include "proxy/upstream/connector.h"

namespace hoplite::proxy {

class Server;
class UpstreamPool;

// Ownership: a Session owns the client socket, the current upstream socket and its two timers.
// close() is its only way to end; it frees itself in the close callback of its last timer (the
// sockets free themselves in theirs, see Socket::dispose). Requests on one connection are served
// one at a time: bytes of a pipelined request wait unparsed in the client read buffer (which
// bounds them) until the response before them is complete.
class Session final : public ClientConnection,
                      private SocketHandler,
                      private upstream::ConnectOwner {
 public:
  // Takes over an accepted client socket; the session lives until it closes itself.
  // `listener`: the index of the listener that accepted it (the metrics' label).
  static void start(Server& server, std::unique_ptr<Socket> client, const policy::PeerInfo& peer,
                    size_t listener);

  void beginDrain() override;
  void forceClose() override;
  void reloaded() override;

 private:
  // Named after what the session waits for. Every change goes through enterPhase().
  enum class Phase {
    AwaitingRequestHead,      // reading the client (idle between requests, or inside a head)
    ConnectingUpstream,       // resolving and connecting; client bytes wait unparsed
    ForwardingRequestBody,    // head sent upstream; copying the request body (if any)
    AwaitingResponseHead,     // request sent; waiting for the (interim or final) response head
    AwaitingUpgradeResponse,  // an upgrade request was sent; client bytes are held, unparsed
    StreamingResponse,        // final response head sent to the client; copying its body
    FlushingBeforeClose,      // last response queued; waiting for it to flush and FIN to go
    LingeringClose,           // FIN sent; discarding client input until EOF, briefly
    Closing,                  // close() ran; waiting for the close callbacks
  };
  // What the client timer currently measures, so that its expiry knows what it means.
  enum class ClientTimer { None, Header, Idle, Body, SendStall, Linger };

  // What the request ID and the access log keep of one exchange. Allocated from a slab when an
  // exchange needs it and freed with it: inline in the Session, its 456 bytes stayed with every
  // idle keep-alive connection (scenario 10: 3.99 KiB per idle connection instead of 3.51).
  struct ExchangeFacts : SlabAllocated<ExchangeFacts> {
    policy::RequestId requestId;  // empty with request_id "off"
    observe::ExchangeRecord record;
    uint64_t connectStartNs = 0;
    std::string resolvedAddress;  // upstream_addr when the server is a name: the address used
  };

  // Everything about the request/response exchange in flight; reset for each request.
  struct Exchange {
    parser::RequestHead request;
    const conf::Route* route = nullptr;
    conf::Timeouts timeouts;
    policy::UpgradeRequest upgrade;
    policy::UpstreamRequest upstreamRequest;
    std::shared_ptr<UpstreamPool> pool;
    // Counts this request on its server while it is in flight (least_connections,
    // max_connections); moves to the tunnel after a 101.
    UpstreamPool::ServerLease lease;
    uint64_t requestBodyBytesSent = 0;
    bool requestComplete = false;    // the whole request went into the upstream write queue
    bool reusedUpstream = false;     // the upstream connection came from the idle pool
    bool retried = false;            // the one retry on a fresh connection was used
    bool responseStarted = false;    // at least one response byte arrived
    bool responseHeadSent = false;   // a final response head went to the client
    bool upgradeAccepted = false;    // a 101 head was accepted; the tunnel starts at its end
    bool upstreamKeepAlive = false;  // the final response allows reusing the connection
    bool upstreamBroken = false;     // never pool: write failed, EOF seen
    bool closeAfter = false;         // close the client connection after this response
    bool upstreamHeadHeld = false;   // the request head waits to leave with its first body bytes
    parser::Framing clientFraming = parser::Framing::None;
    size_t server = 0;  // the pool's index of the server connected (or being connected) to
    // The request ID and the access log's record, from a slab while the exchange needs them
    // (see ExchangeFacts); null when neither request_id nor the access log is on.
    std::unique_ptr<ExchangeFacts> facts;
    // uv_hrtime() at the request head, and when the request went upstream: the metrics' times
    // (kept here, not in the facts, since they are taken with the access log off too).
    uint64_t startNs = 0;
    uint64_t requestSentNs = 0;
    uint16_t clientStatus = 0;  // the final (or 101) status the client was sent; 0: none yet
    bool started = false;       // a request head was parsed
    bool logged = false;        // the record was written
    // Why the exchange was cut, when close() ends it before its response was complete.
    std::string_view cutError;
  };

  friend struct std::default_delete<Session>;  // adopted in the last close callback

  Session(Server& server, std::unique_ptr<Socket> client, const policy::PeerInfo& peer,
          size_t listener);
  ~Session();

  // Idempotent; the only way a session ends. `reason` is for debugging only.
  void close(const char* reason);
  void enterPhase(Phase next);
  // A new, empty exchange_, the last one's memory freed: assigning an empty Exchange alone would
  // keep each string's buffer (a short string moved in is copied into it, not swapped), and so
  // the serialised upstream request would stay with an idle client.
  void resetExchange();
  void armClientTimer(ClientTimer kind);
  // Starts or stops reading each socket for the current phase and the write queues' levels
  // (backpressure), and pauses the gap timers of a side we chose not to read.
  void updateReadState();

  // The config this connection's current exchange is served with.
  const conf::Config& config() const { return *generation_->config; }
  // Between requests: moves to the server's current generation, unless this connection's
  // listener is not in it (a reload removed it): then it stays on its own and closes after its
  // next response.
  void adoptCurrentGeneration();

  // Request side.
  void processClientInput();
  void onRequestHead();
  void onRequestBody(std::string_view bytes);
  void onRequestComplete();
  // The upgrade rules of the exchange's route (its own, or the top-level ones). Needs a route.
  const conf::UpgradeSettings& routeUpgradeSettings() const;
  // Asks connector_ for a connection to the exchange's upstream (ConnectOwner below answers).
  void connectUpstream(bool allowReuse);
  void onUpstreamReady();

  // upstream::ConnectOwner: the connector's reports.
  void onServerAttempt(size_t server) override;
  void onConnectIssued(size_t server, const struct sockaddr_storage* resolved) override;
  void onUpstreamConnected(std::unique_ptr<Socket> socket,
                           std::unique_ptr<parser::ResponseParser> parser, size_t server,
                           bool reused, UpstreamPool::ServerLease lease) override;
  void onServerFailed(size_t server, observe::ConnectFailure reason, int status, bool timedOut,
                      bool ejected, bool another) override;
  void onNoConnection(upstream::ConnectOutcome last) override;

  // Response side.
  void processUpstreamInput();
  void onResponseHead();
  void onResponseBody(std::string_view bytes);
  // Returns true when the parser goes on with another message (an interim response ended).
  bool onResponseComplete();
  // Preconditions (HAProxy h1_set_tunnel_mode):
  //  1. the request was a Granted upgrade and is complete (requests with a body are never
  //     granted, so the whole request was forwarded and client bytes since are held unparsed);
  //  2. classifyUpgradeResponse returned Accepted for the 101 head, and the response parser
  //     reported that head's MessageComplete, leaving the bytes after it in the upstream buffer.
  // Writes the 101 head to the client and moves both sockets into a Tunnel, which sends the held
  // client bytes up and the upstream's leftover bytes down before copying raw. Then this session
  // closes (its timers; the sockets are no longer its own). HTTP mode never resumes.
  void startTunnel();

  // Failure handling.
  bool canRetry() const;
  void retryOnFreshConnection();
  void onUpstreamFailure(const char* what, int status);
  // Answers with a generated response (status, `extraFields` such as a 426's Upgrade, and
  // Connection: close) if no response head was sent yet, then closes gracefully; after a head was
  // sent, just closes.
  // `error` is the access log's stable reason (e.g. "upstream_connect_failed").
  void respondError(uint16_t status, std::string_view error, const std::string& detail,
                    std::span<const policy::ExtraField> extraFields = {});
  // Ends the exchange's record, once: counts it in the metrics and writes its access log line;
  // `error` as in respondError, empty when the exchange went as it should.
  void logExchange(std::string_view error);
  // The metrics of a finished exchange: requests_total and its duration, or
  // rejected_requests_total for one refused before a route was chosen.
  void countExchange(std::string_view error);
  // The route's index in the config, for metric labels (exchange_.route is set).
  size_t routeIndex() const;
  // The index in MetricLayout::servers of exchange_.server.
  size_t serverMetricIndex() const;
  void countUpgrade(observe::UpgradeResult result);
  // Starts the exchange's record at its head: the time, the request's own facts.
  void startRecord();
  // The exchange's facts, allocated on first use.
  ExchangeFacts& facts();
  // The facts when the access log is on (the record is worth filling), else null.
  ExchangeFacts* loggedFacts();
  // The exchange's request ID, or "" (request_id "off", or no head parsed yet).
  std::string_view requestId() const;
  // close() with the reason the access log gives an exchange it cuts short.
  void cutExchange(std::string_view error, const char* reason);
  // Flushes what was written, sends FIN, and discards client input until EOF or a short linger
  // timeout, so that the client reads our last response instead of a reset (a close with unread
  // input sends RST, which can destroy the response in the client's receive buffer).
  void finishAndClose();
  // Whether closing now cannot turn into a reset that destroys the response on its way: the
  // client sent EOF, or it said it sends nothing more (Connection: close, or HTTP/1.0 without
  // keep-alive; RFC 9112 §9.6 forbids further requests after it) and its request was read whole.
  // Only then is the lingering close skipped (nginx skips it likewise when nothing more is
  // known to be coming). With Connection: close on every request, that saves a shutdown(2) and
  // the read of the client's EOF: 2 syscalls of 11 per connection.
  bool clientSendsNoMore() const;
  // True once the final response's head was written to the client: from then on an error can
  // only cut the connection. A head still held (heldClientHead_) can give way to an error.
  bool clientSawResponse() const;
  // Our last response and FIN are out: closes if the client has finished too, else lingers.
  void onClientFinSent();
  void dropUpstream();

  // Write up to three pieces as one; false (and the session closes or fails over) on error.
  bool writeClient(std::string_view a, std::string_view b = {}, std::string_view c = {});
  bool writeUpstream(std::string_view a, std::string_view b = {}, std::string_view c = {});
  // Sends a held response head that no body bytes followed.
  bool flushClientHead();
  // Sends a held upstream request head that no body bytes followed yet.
  bool flushUpstreamHead();
  void onClientTimeout();
  void onUpstreamTimeout();
  void onTimerClosed();

  // SocketHandler
  void onSocketRead(Socket& socket) override;
  void onSocketBufferFull(Socket& socket) override;
  void onSocketEof(Socket& socket) override;
  void onSocketError(Socket& socket, int status, const char* what) override;
  void onSocketWritten(Socket& socket) override;
  void onSocketConnected(Socket& socket) override;
  void onSocketShutdown(Socket& socket) override;

  Server& server_;
  // The config generation this connection is served with: the server's current one when the
  // connection was accepted, and again between requests (a reload applies from the next request
  // head on). Kept alive by this pointer, with its routes and pools, while anything here uses it.
  std::shared_ptr<Generation> generation_;
  std::unique_ptr<Socket> client_;
  // The upstream connection of the exchange, once connected; while connecting, the connector
  // holds the socket.
  std::unique_ptr<Socket> upstream_;
  upstream::Connector connector_;
  Timer clientTimer_;
  Timer upstreamTimer_;
  int openHandles_ = 2;  // the two timers
  Phase phase_ = Phase::AwaitingRequestHead;
  ClientTimer clientTimerKind_ = ClientTimer::None;
  policy::PeerInfo peer_;
  uint16_t listener_;  // the index of the listener that accepted the client, in generation_
  // Whether the peer is inside forwarded.trusted_proxies (its request IDs are kept): decided
  // once per connection and generation, not per request.
  bool peerTrusted_;
  bool listenerRemoved_ = false;  // a reload removed the listener that accepted this connection
  parser::RequestParser requestParser_;
  std::unique_ptr<parser::ResponseParser> responseParser_;
  // True while responseParser_->feed() runs. Its body handler can end the session (a client
  // write fails), and the parser must not be destroyed under its own feed(): dropUpstream then
  // only sets responseParserDropped_, and processUpstreamInput destroys it once feed() returns.
  bool feedingResponse_ = false;
  bool responseParserDropped_ = false;
  Exchange exchange_;
  // A final response head not written yet: it goes out with the first body bytes, at the end of
  // the upstream read that brought it, or when the response completes.
  std::string heldClientHead_;
  uint64_t exchangesDone_ = 0;
  // Bytes of the request head being read, for the access log's bytes_in.
  uint64_t headBytes_ = 0;
  // The client half-closed while its bytes were held behind an upgrade request or while the last
  // response was flushing: it is not read again, and the tunnel (if any) starts half-closed.
  bool clientSentEof_ = false;
};

}  // namespace hoplite::proxy
