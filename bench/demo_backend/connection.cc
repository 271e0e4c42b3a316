#include "bench/demo_backend/connection.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <optional>

#include "bench/demo_backend/request_json.h"
#include "bench/demo_backend/server.h"
#include "bench/demo_backend/websocket.h"
#include "bench/websocket/frame_format.h"
#include "bench/websocket/handshake.h"

namespace hoplite::demo {

// A uv_write_t travels with the bytes it writes; the write callback frees both.
struct WriteRequest {
  uv_write_t req{};
  std::string storage;  // owned bytes; empty when `buf` points at the static pattern
  uv_buf_t buf{};
};

namespace {

namespace ws = bench::websocket;

// The /bytes/N pattern: byte i is i % 256. The buffer length is a multiple of 256, so any slice
// starting at (position % 256) continues the pattern.
constexpr size_t kPatternBytes = 64 * 1024;
const std::array<char, kPatternBytes + 256>& pattern() {
  static const auto bytes = [] {
    std::array<char, kPatternBytes + 256> filled{};
    for (size_t i = 0; i < filled.size(); ++i) filled[i] = static_cast<char>(i & 0xFF);
    return filled;
  }();
  return bytes;
}

Connection* owner(uv_handle_t* handle) {
  return static_cast<Connection*>(handle->data);
}

void onAllocTrampoline(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  owner(handle)->onAlloc(buf);
}
void onReadTrampoline(uv_stream_t* stream, ssize_t nread, const uv_buf_t* /*buf*/) {
  owner(reinterpret_cast<uv_handle_t*>(stream))->onRead(nread);
}
void onWriteTrampoline(uv_write_t* req, int status) {
  auto* request = static_cast<WriteRequest*>(req->data);
  owner(reinterpret_cast<uv_handle_t*>(req->handle))->onWriteDone(request, status);
}
void onShutdownTrampoline(uv_shutdown_t* req, int status) {
  owner(reinterpret_cast<uv_handle_t*>(req->handle))->onShutdown(status);
}
void onLingerTrampoline(uv_timer_t* timer) {
  owner(reinterpret_cast<uv_handle_t*>(timer))->onLingerTimeout();
}
void onClosedTrampoline(uv_handle_t* handle) {
  owner(handle)->onHandleClosed();
}

std::string_view reasonPhrase(uint16_t status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// True when a comma-separated field value holds `token` (case-insensitive, OWS around items).
bool hasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (parser::equalsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// "/bytes/N" (query ignored) gives N; anything else nullopt.
std::optional<uint64_t> bytesRequested(std::string_view target) {
  constexpr std::string_view kPrefix = "/bytes/";
  target = target.substr(0, target.find('?'));
  if (target.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string_view digits = target.substr(kPrefix.size());
  uint64_t count = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return count;
}

std::string hexDigest(EVP_MD_CTX* context) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

}  // namespace

Connection::Connection(Server& server, uint64_t id)
    : server_(server),
      id_(id),
      readBuffer_(new char[kReadBufferBytes]),
      parser_(parser::ParserLimits{.maxHeaderBytes = 64 * 1024,
                                   .maxHeaderCount = 500,
                                   .maxBodyBytes = 0,
                                   .maxChunkExtensionBytes = 16 * 1024}),
      bodyHash_(EVP_MD_CTX_new()) {
  uv_tcp_init(server_.loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(server_.loop(), &lingerTimer_);
  lingerTimer_.data = this;
  openHandles_ = 2;
  parser_.setBodyHandler([this](std::string_view data) {
    bodyLength_ += data.size();
    EVP_DigestUpdate(bodyHash_, data.data(), data.size());
  });
}

Connection::~Connection() {
  EVP_MD_CTX_free(bodyHash_);
}

void Connection::start(uv_stream_t* listener) {
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    close();
    return;
  }
  uv_tcp_nodelay(&tcp_, 1);
  sockaddr_storage peer{};
  int length = sizeof peer;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    char host[INET6_ADDRSTRLEN] = "";
    if (peer.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&peer);
      uv_ip6_name(v6, host, sizeof host);
      peerPort_ = ntohs(v6->sin6_port);
    } else {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&peer);
      uv_ip4_name(v4, host, sizeof host);
      peerPort_ = ntohs(v4->sin_port);
    }
    peerAddress_ = host;
  }
  updateReadState();
}

void Connection::close() {
  if (phase_ == Phase::Closing) return;
  phase_ = Phase::Closing;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onClosedTrampoline);
  uv_close(reinterpret_cast<uv_handle_t*>(&lingerTimer_), onClosedTrampoline);
}

void Connection::onHandleClosed() {
  if (--openHandles_ > 0) return;
  server_.forget(this);
  delete this;
}

// ---------------------------------------------------------------------------------------------
// Reading

void Connection::onAlloc(uv_buf_t* buf) {
  if (readStart_ == readEnd_) readStart_ = readEnd_ = 0;
  if (readEnd_ == kReadBufferBytes && readStart_ > 0) {
    std::memmove(readBuffer_.get(), readBuffer_.get() + readStart_, readEnd_ - readStart_);
    readEnd_ -= readStart_;
    readStart_ = 0;
  }
  // A full buffer yields {nullptr, 0}, which libuv reports as UV_ENOBUFS; updateReadState() stops
  // reading before that can happen.
  const size_t free = kReadBufferBytes - readEnd_;
  *buf =
      uv_buf_init(free > 0 ? readBuffer_.get() + readEnd_ : nullptr, static_cast<unsigned>(free));
}

void Connection::onRead(ssize_t nread) {
  if (phase_ == Phase::Closing) return;
  if (nread > 0) {
    readEnd_ += static_cast<size_t>(nread);
    processInput();
    return;
  }
  if (nread == UV_EOF) {
    peerEof_ = true;
    updateReadState();
    if (phase_ == Phase::Lingering) {
      close();
      return;
    }
    finishIfPeerDone();
    return;
  }
  if (nread < 0) close();  // reset, or UV_ENOBUFS (which updateReadState() prevents)
}

// One function decides whether to read: not after EOF or once closing, not while the write queue
// is above the high watermark (until it falls below half), not while the read buffer is full.
void Connection::updateReadState() {
  if (phase_ == Phase::Closing) return;
  const bool writeBlocked = writeQueueFull();
  const bool bufferFull = readEnd_ - readStart_ == kReadBufferBytes;
  const bool want = !peerEof_ && (phase_ == Phase::Lingering ||
                                  (!writeBlocked && !bufferFull && phase_ != Phase::ShuttingDown));
  if (want && !reading_) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAllocTrampoline,
                             onReadTrampoline) == 0;
  } else if (!want && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

// Hysteresis: full from kHighWatermark queued bytes until the queue falls to half of it.
bool Connection::writeQueueFull() {
  if (pendingWriteBytes_ >= kHighWatermark) writeBlocked_ = true;
  if (pendingWriteBytes_ <= kHighWatermark / 2) writeBlocked_ = false;
  return writeBlocked_;
}

void Connection::processInput() {
  bool progressing = true;
  while (progressing) {
    switch (phase_) {
      case Phase::ReadingRequests:
        progressing = processHttp();
        break;
      case Phase::WebSocket:
        progressing = processWebSocket();
        break;
      case Phase::ShuttingDown:
      case Phase::Lingering:
        consume(input().size());  // nothing more will be answered
        progressing = false;
        break;
      case Phase::Closing:
        return;
    }
  }
  updateReadState();
  finishIfPeerDone();
}

// After the peer's EOF, end the connection once everything it sent has been answered.
void Connection::finishIfPeerDone() {
  if (!peerEof_ || phase_ == Phase::Closing) return;
  if (phase_ == Phase::ShuttingDown || phase_ == Phase::Lingering) return;  // already ending
  // Still answering: onWriteDone() runs processInput() again, which comes back here.
  if (bodyRemaining_ > 0 || writeQueueFull()) return;
  if (phase_ == Phase::ReadingRequests && (!input().empty() || !parser_.betweenMessages())) {
    close();  // the peer stopped in the middle of a request: nothing to answer
    return;
  }
  beginShutdown();  // in a WebSocket, an incomplete frame is dropped
}

// ---------------------------------------------------------------------------------------------
// HTTP

bool Connection::processHttp() {
  // Responses go out in order: while a /bytes body streams, or while the client does not read its
  // answers, the next request waits in the read buffer.
  if (bodyRemaining_ > 0 || writeQueueFull()) return false;
  const std::string_view data = input();
  const parser::FeedResult result = parser_.feed(data);
  consume(result.consumed);
  switch (result.status) {
    case parser::ParseStatus::NeedMore:
      return false;
    case parser::ParseStatus::HeadComplete:
      onRequestHead();
      return true;
    case parser::ParseStatus::MessageComplete:
      onRequestComplete();
      return true;
    case parser::ParseStatus::Error:
      respondWithError(parser_.error().status, parser_.error().reason);
      return false;
  }
  return false;
}

void Connection::onRequestHead() {
  ++requestCount_;
  bodyLength_ = 0;
  EVP_DigestInit_ex(bodyHash_, EVP_sha256(), nullptr);
  const parser::RequestHead& head = parser_.head();
  // RFC 9110 §10.1.1: a server that will read the body answers 100 Continue to an HTTP/1.1 client.
  if (head.expectsContinue && head.isHttp11OrLater() && head.framing != parser::Framing::None) {
    write("HTTP/1.1 100 Continue\r\n\r\n");
  }
}

void Connection::onRequestComplete() {
  const parser::RequestHead& head = parser_.head();
  if (parser_.upgradePaused()) {
    const std::string* upgrade = parser::findHeader(head.headers, "Upgrade");
    if (upgrade != nullptr && hasToken(*upgrade, "websocket")) {
      const std::string* key = parser::findHeader(head.headers, "Sec-WebSocket-Key");
      const std::string* version = parser::findHeader(head.headers, "Sec-WebSocket-Version");
      if (head.method == "GET" && head.isHttp11OrLater() && key != nullptr &&
          isValidWebSocketKey(*key) && version != nullptr && *version == "13") {
        switchToWebSocket(head);
        return;
      }
      respondWithError(400, "invalid WebSocket handshake");
      return;
    }
    // Another protocol: not spoken here, so answer as plain HTTP. The bytes that follow are
    // parsed as the next request.
  }
  respond(head);
}

void Connection::respond(const parser::RequestHead& head) {
  const bool headOnly = head.method == "HEAD";
  closeAfterResponse_ = !head.keepAlive;
  std::string response = "HTTP/1.1 200 OK\r\n";
  if (!head.keepAlive) {
    response.append("Connection: close\r\n");
  } else if (!head.isHttp11OrLater()) {
    response.append("Connection: keep-alive\r\n");
  }
  if (const std::optional<uint64_t> count = bytesRequested(head.target)) {
    response.append("Content-Type: application/octet-stream\r\nContent-Length: ");
    response.append(std::to_string(*count)).append("\r\n\r\n");
    write(std::move(response));
    bodyRemaining_ = headOnly ? 0 : *count;
    bodyOffset_ = 0;
    pumpBody();
    return;
  }
  const std::string json = renderRequestJson(ReceivedRequest{.head = &head,
                                                             .bodyLength = bodyLength_,
                                                             .bodySha256 = hexDigest(bodyHash_),
                                                             .peerAddress = peerAddress_,
                                                             .peerPort = peerPort_,
                                                             .connectionId = id_,
                                                             .requestIndex = requestCount_});
  response.append("Content-Type: application/json\r\nContent-Length: ");
  response.append(std::to_string(json.size())).append("\r\n\r\n");
  if (!headOnly) response.append(json);
  write(std::move(response));
  afterResponse();
}

// Writes /bytes slices from the static pattern while the write queue has room; onWriteDone calls
// it again as the queue drains.
void Connection::pumpBody() {
  while (bodyRemaining_ > 0 && pendingWriteBytes_ < kHighWatermark) {
    const size_t length = static_cast<size_t>(std::min<uint64_t>(bodyRemaining_, kPatternBytes));
    writeStatic(pattern().data() + (bodyOffset_ & 0xFF), length);
    bodyRemaining_ -= length;
    bodyOffset_ += length;
  }
  if (bodyRemaining_ == 0) afterResponse();
}

void Connection::afterResponse() {
  if (closeAfterResponse_) beginShutdown();
}

void Connection::respondWithError(uint16_t status, std::string_view reason) {
  const std::string body = std::string(reason) + "\n";
  std::string response = "HTTP/1.1 " + std::to_string(status) + " ";
  response.append(reasonPhrase(status));
  response.append("\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ");
  response.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  write(std::move(response));
  beginShutdown();
}

// ---------------------------------------------------------------------------------------------
// WebSocket

void Connection::switchToWebSocket(const parser::RequestHead& head) {
  std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ";
  response.append(ws::secWebSocketAccept(*parser::findHeader(head.headers, "Sec-WebSocket-Key")));
  response.append("\r\n");
  // Agree to the first subprotocol offered, so a client (or a test) sees the field pass through.
  if (const std::string* protocols = parser::findHeader(head.headers, "Sec-WebSocket-Protocol")) {
    std::string_view first(*protocols);
    first = first.substr(0, first.find(','));
    while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
    if (!first.empty()) response.append("Sec-WebSocket-Protocol: ").append(first).append("\r\n");
  }
  response.append("\r\n");
  write(std::move(response));
  phase_ = Phase::WebSocket;
}

bool Connection::processWebSocket() {
  if (writeQueueFull()) return false;
  const std::string_view data = input();
  if (data.empty()) return false;

  if (inDataFrame_) {
    const size_t length = static_cast<size_t>(std::min<uint64_t>(data.size(), frameRemaining_));
    std::string payload(data.substr(0, length));
    ws::applyMask(payload.data(), payload.size(), frameMask_, frameOffset_);
    consume(length);
    frameOffset_ += length;
    frameRemaining_ -= length;
    if (frameRemaining_ == 0) inDataFrame_ = false;
    write(std::move(payload));
    return true;
  }

  FrameHeader header;
  switch (parseFrameHeader(data, header)) {
    case FrameHeaderStatus::NeedMore:
      return false;
    case FrameHeaderStatus::ProtocolError:
      failWebSocket(1002);
      return false;
    case FrameHeaderStatus::Complete:
      break;
  }
  // RFC 6455 §5.1: every client frame is masked; §5.2: no extension, so no RSV bit.
  if (!header.masked || header.rsv != 0) {
    failWebSocket(1002);
    return false;
  }
  if (ws::isControl(header.opcode)) {
    // Control payloads are at most 125 bytes: wait until the whole frame is in the buffer.
    if (data.size() < header.headerLength + header.payloadLength) return false;
    std::string payload(data.substr(header.headerLength, header.payloadLength));
    ws::applyMask(payload.data(), payload.size(), header.mask, 0);
    consume(header.headerLength + header.payloadLength);
    handleControlFrame(header.opcode, std::move(payload));
    return true;
  }
  // §5.4: a continuation only inside a fragmented message, a new message only outside one.
  const bool continuation = header.opcode == static_cast<uint8_t>(ws::Opcode::Continuation);
  if (continuation != inFragmentedMessage_) {
    failWebSocket(1002);
    return false;
  }
  inFragmentedMessage_ = !header.fin;
  consume(header.headerLength);
  write(encodeFrameHeader(header.fin, header.opcode, header.payloadLength));
  std::memcpy(frameMask_, header.mask, sizeof frameMask_);
  frameOffset_ = 0;
  frameRemaining_ = header.payloadLength;
  inDataFrame_ = frameRemaining_ > 0;
  return true;
}

void Connection::handleControlFrame(uint8_t opcode, std::string payload) {
  switch (static_cast<ws::Opcode>(opcode)) {
    case ws::Opcode::Ping: {
      std::string pong =
          encodeFrameHeader(true, static_cast<uint8_t>(ws::Opcode::Pong), payload.size());
      write(std::move(pong.append(payload)));
      return;
    }
    case ws::Opcode::Close: {
      // §5.5.1: answer with a close frame echoing the status code, then end the connection (the
      // server closes the TCP connection first, §7.1.1).
      if (payload.size() == 1) {
        failWebSocket(1002);
        return;
      }
      std::string close = encodeFrameHeader(true, static_cast<uint8_t>(ws::Opcode::Close),
                                            std::min<size_t>(payload.size(), 2));
      close.append(payload.substr(0, 2));
      write(std::move(close));
      beginShutdown();
      return;
    }
    default:
      return;  // an unsolicited pong is ignored (§5.5.3)
  }
}

void Connection::failWebSocket(uint16_t code) {
  std::string close = encodeFrameHeader(true, static_cast<uint8_t>(ws::Opcode::Close), 2);
  close.push_back(static_cast<char>(code >> 8));
  close.push_back(static_cast<char>(code & 0xFF));
  write(std::move(close));
  beginShutdown();
}

// ---------------------------------------------------------------------------------------------
// Writing and the end of the connection

void Connection::write(std::string bytes) {
  auto* request = new WriteRequest;
  request->storage = std::move(bytes);
  request->buf =
      uv_buf_init(request->storage.data(), static_cast<unsigned>(request->storage.size()));
  submit(request);
}

void Connection::writeStatic(const char* data, size_t length) {
  auto* request = new WriteRequest;
  request->buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(length));
  submit(request);
}

void Connection::submit(WriteRequest* request) {
  if (phase_ == Phase::Closing || request->buf.len == 0) {
    delete request;
    return;
  }
  request->req.data = request;
  pendingWriteBytes_ += request->buf.len;
  const int rc = uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), &request->buf, 1,
                          onWriteTrampoline);
  if (rc != 0) {
    pendingWriteBytes_ -= request->buf.len;
    delete request;
    close();
  }
}

void Connection::onWriteDone(WriteRequest* request, int status) {
  pendingWriteBytes_ -= request->buf.len;
  delete request;
  if (phase_ == Phase::Closing) return;
  if (status < 0) {
    close();
    return;
  }
  if (phase_ == Phase::ReadingRequests && bodyRemaining_ > 0) pumpBody();
  processInput();
}

void Connection::beginShutdown() {
  if (phase_ == Phase::Closing || phase_ == Phase::ShuttingDown || phase_ == Phase::Lingering)
    return;
  phase_ = Phase::ShuttingDown;
  bodyRemaining_ = 0;
  updateReadState();
  // uv_shutdown waits for the queued writes, then sends FIN.
  if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t*>(&tcp_), onShutdownTrampoline) !=
      0) {
    close();
  }
}

// Closing right after our FIN would turn unread input into a reset, which can destroy the response
// at the peer; so drain the input until the peer's EOF, for at most kLingerMs.
void Connection::onShutdown(int status) {
  if (phase_ == Phase::Closing) return;
  if (status < 0 || peerEof_) {
    close();
    return;
  }
  phase_ = Phase::Lingering;
  uv_timer_start(&lingerTimer_, onLingerTrampoline, kLingerMs, 0);
  updateReadState();
}

void Connection::onLingerTimeout() {
  close();
}

}  // namespace hoplite::demo
