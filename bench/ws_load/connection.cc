#include "connection.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cassert>
#include <cctype>
#include <cstring>

#include "bench/websocket/handshake.h"

namespace ws_load {

namespace {

constexpr std::size_t kMaxResponseHead = 16 * 1024;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Checks a 101 response head (RFC 6455 §4.1, client requirements 1-4): status 101, Upgrade:
// websocket, Connection: upgrade and the Sec-WebSocket-Accept that matches our key.
bool validHandshakeResponse(std::string_view head, std::string_view expectedAcceptValue) {
  const auto firstLineEnd = head.find("\r\n");
  const std::string_view statusLine = head.substr(0, firstLineEnd);
  if (statusLine.size() < 12 || statusLine.substr(0, 5) != "HTTP/" ||
      statusLine.substr(8, 4) != " 101")
    return false;
  bool upgrade = false;
  bool connection = false;
  bool accept = false;
  std::size_t pos = firstLineEnd + 2;
  while (pos < head.size()) {
    const auto end = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, end - pos);
    pos = end == std::string_view::npos ? head.size() : end + 2;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equalsIgnoreCase(name, "upgrade")) {
      upgrade = equalsIgnoreCase(value, "websocket");
    } else if (equalsIgnoreCase(name, "connection")) {
      // A token list; look for "upgrade" among its tokens.
      std::size_t start = 0;
      while (start <= value.size()) {
        const auto comma = value.find(',', start);
        if (equalsIgnoreCase(trim(value.substr(start, comma - start)), "upgrade"))
          connection = true;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
    } else if (equalsIgnoreCase(name, "sec-websocket-accept")) {
      accept = value == expectedAcceptValue;
    }
  }
  return upgrade && connection && accept;
}

}  // namespace

Connection::Connection(ConnectionOwner& owner, uv_loop_t* loop, std::size_t slot)
    : owner_(owner), loop_(loop), slot_(slot) {
  tcp_.data = this;
  connect_.data = this;
}

Connection::~Connection() {
  assert(!handleOpen_ || phase_ == Phase::Closing);
}

void Connection::enterPhase(Phase phase) {
  phase_ = phase;
  phaseSince_ = uv_now(loop_);
}

bool Connection::start(const sockaddr_in& target, const sockaddr_in* source,
                       const std::string& hostHeader, const std::string& path) {
  startedAt_ = uv_hrtime();
  enterPhase(Phase::Connecting);
  if (uv_tcp_init_ex(loop_, &tcp_, AF_INET) != 0) {
    phase_ = Phase::Idle;
    return false;
  }
  handleOpen_ = true;
  uv_tcp_nodelay(&tcp_, 1);
  if (source != nullptr) {
    // Let connect() pick the port per destination, not bind(): with several thousand
    // connections per source address, bind(port 0) would exhaust the ephemeral range.
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
      const int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    if (uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(source), 0) != 0) {
      close(false);
      return true;
    }
  }
  key_ = makeHandshakeKey(owner_.random());
  if (uv_tcp_connect(&connect_, &tcp_, reinterpret_cast<const sockaddr*>(&target),
                     onConnectTrampoline) != 0) {
    close(false);
    return true;
  }
  // Prepare the request now; it is written as soon as the connection is up.
  head_ = "GET " + path + " HTTP/1.1\r\nHost: " + hostHeader +
          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
          "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  return true;
}

void Connection::onConnectTrampoline(uv_connect_t* req, int status) {
  static_cast<Connection*>(req->data)->onConnect(status);
}

void Connection::onConnect(int status) {
  if (phase_ == Phase::Closing) return;
  if (status != 0) {
    close(false);
    return;
  }
  auto* request = new WriteRequest{};
  request->owner = this;
  request->bytes.assign(head_.begin(), head_.end());
  request->req.data = request;
  head_.clear();
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  if (uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, onWriteTrampoline) !=
      0) {
    delete request;
    close(false);
    return;
  }
  enterPhase(Phase::AwaitingHandshake);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), onAllocTrampoline, onReadTrampoline) !=
      0)
    close(false);
}

void Connection::onAllocTrampoline(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  *buf = static_cast<Connection*>(handle->data)->owner_.readBuffer();
}

void Connection::onReadTrampoline(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  static_cast<Connection*>(stream->data)->onRead(nread, buf);
}

void Connection::onRead(ssize_t nread, const uv_buf_t* buf) {
  if (phase_ == Phase::Closing) return;
  if (nread < 0) {
    // EOF after our close handshake is the normal end; anything else is a failure.
    close(nread == UV_EOF && closeReceived_);
    return;
  }
  if (nread == 0) return;
  if (phase_ == Phase::AwaitingHandshake) {
    handleHandshakeBytes(buf->base, static_cast<std::size_t>(nread));
    return;
  }
  if (!reader_.feed(buf->base, static_cast<std::size_t>(nread), *this)) close(false);
}

void Connection::handleHandshakeBytes(const char* data, std::size_t length) {
  const std::size_t before = head_.size();
  head_.append(data, length);
  // Search from a little before the new bytes, in case "\r\n\r\n" straddles two reads.
  const auto end = head_.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
  if (end == std::string::npos) {
    if (head_.size() > kMaxResponseHead) close(false);
    return;
  }
  const std::string_view head(head_.data(), end + 4);
  if (!validHandshakeResponse(head, hoplite::bench::websocket::secWebSocketAccept(key_))) {
    close(false);
    return;
  }
  const std::size_t restOffset = end + 4;
  std::string rest = head_.substr(restOffset);
  head_.clear();
  head_.shrink_to_fit();
  enterPhase(Phase::Open);
  established = true;
  owner_.onOpen(*this);
  if (!rest.empty() && phase_ != Phase::Closing) {
    if (!reader_.feed(rest.data(), rest.size(), *this)) close(false);
  }
}

void Connection::onDataBytes(std::size_t count) {
  payloadReceived += count;
  owner_.onDataBytes(*this, count);
}

void Connection::onMessageEnd(std::uint64_t messageBytes) {
  if (phase_ == Phase::Open) owner_.onMessage(*this, messageBytes);
}

void Connection::onControl(Opcode opcode, std::string_view payload) {
  if (phase_ == Phase::Closing) return;
  switch (opcode) {
    case Opcode::Ping:
      writeFrame(Opcode::Pong, payload);
      break;
    case Opcode::Close:
      closeReceived_ = true;
      if (phase_ != Phase::CloseSent) {
        // The server started closing: echo its status (RFC 6455 §5.5.1) and wait for its EOF.
        writeFrame(Opcode::Close, payload.substr(0, std::min<std::size_t>(payload.size(), 2)));
        enterPhase(Phase::CloseSent);
      }
      break;
    default:
      break;
  }
}

void Connection::sendMessage(std::string_view payload) {
  if (phase_ != Phase::Open) return;
  payloadSent += payload.size();
  writeFrame(Opcode::Binary, payload);
}

void Connection::sendClose() {
  if (phase_ != Phase::Open) return;
  const char status[2] = {static_cast<char>(1000 >> 8), static_cast<char>(1000 & 0xFF)};
  writeFrame(Opcode::Close, std::string_view(status, 2));
  enterPhase(Phase::CloseSent);
}

void Connection::writeFrame(Opcode opcode, std::string_view payload) {
  auto* request = new WriteRequest{};
  request->owner = this;
  request->req.data = request;
  request->bytes.reserve(clientFrameHeaderSize(payload.size()) + payload.size());
  appendClientFrame(request->bytes, opcode, payload, owner_.random().next32());
  uv_buf_t buf = uv_buf_init(request->bytes.data(), static_cast<unsigned>(request->bytes.size()));
  if (uv_write(&request->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, onWriteTrampoline) !=
      0) {
    delete request;
    close(false);
  }
}

void Connection::onWriteTrampoline(uv_write_t* req, int status) {
  auto* request = static_cast<WriteRequest*>(req->data);
  Connection* self = request->owner;
  delete request;  // the buffer goes with its request, whatever the status
  if (status != 0 && self->phase_ != Phase::Closing) self->close(false);
}

void Connection::close(bool clean) {
  if (phase_ == Phase::Closing) return;
  clean_ = clean;
  enterPhase(Phase::Closing);
  if (handleOpen_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), onCloseTrampoline);
  }
}

void Connection::onCloseTrampoline(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  self->owner_.onClosed(*self, self->clean_);
  delete self;
}

}  // namespace ws_load
