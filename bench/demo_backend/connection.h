// One client connection of the demo backend: HTTP/1.1 (keep-alive, pipelining, Content-Length and
// chunked bodies) until a valid WebSocket handshake, then a WebSocket echo.
//
// HTTP: every request is answered, in order, with 200 and the JSON of the request it received
// (request_json.h); GET/HEAD /bytes/N answers N bytes of the pattern 00 01 02 .. FF 00 01 ...;
// request bodies are consumed (counted and hashed). A request carrying `Expect: 100-continue` and a
// body gets `100 Continue` first.
//
// WebSocket (RFC 6455): data frames are echoed frame by frame as their bytes arrive (same FIN and
// opcode, unmasked), so a message of any size streams through in bounded memory and fragmented
// messages come back fragmented the same way; ping gets pong, close gets close and the end of the
// connection. Text is not checked for UTF-8: it is echoed as sent.
//
// Memory is bounded: one fixed read buffer, and reading stops while more than kHighWatermark bytes
// wait to be written (resuming below half of it). A /bytes/N body is written from a static pattern
// in slices as the writes drain.
#pragma once

#include <openssl/evp.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "parser/message_parser.h"

namespace hoplite::demo {

class Server;
struct WriteRequest;

class Connection {
 public:
  static constexpr size_t kReadBufferBytes = 64 * 1024;
  static constexpr size_t kHighWatermark = 1024 * 1024;
  static constexpr uint64_t kLingerMs = 1000;  // after our FIN, how long unread input is drained

  Connection(Server& server, uint64_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Accepts the pending connection from `listener` and starts reading; closes itself on failure.
  void start(uv_stream_t* listener);
  // The only way to end the connection. Idempotent. The object is freed in the last close callback.
  void close();

  // Called by the libuv trampolines.
  void onAlloc(uv_buf_t* buf);
  void onRead(ssize_t nread);
  void onWriteDone(WriteRequest* request, int status);
  void onShutdown(int status);
  void onLingerTimeout();
  void onHandleClosed();

 private:
  enum class Phase : uint8_t {
    ReadingRequests,  // HTTP; a response may be streaming (bodyRemaining_ > 0)
    WebSocket,        // after the 101
    ShuttingDown,     // our last bytes are queued; uv_shutdown sends FIN after them
    Lingering,        // FIN sent; reading and dropping input until EOF or the linger timer
    Closing,
  };

  std::string_view input() const { return {readBuffer_.get() + readStart_, readEnd_ - readStart_}; }
  void consume(size_t bytes) { readStart_ += bytes; }

  void processInput();
  bool processHttp();       // false: wait for more input or for writes to drain
  bool processWebSocket();  // likewise
  void onRequestHead();
  void onRequestComplete();
  void respond(const parser::RequestHead& head);
  void respondWithError(uint16_t status, std::string_view reason);
  void switchToWebSocket(const parser::RequestHead& head);
  void handleControlFrame(uint8_t opcode, std::string payload);
  void failWebSocket(uint16_t code);
  void pumpBody();
  void afterResponse();
  void finishIfPeerDone();
  void beginShutdown();
  void updateReadState();
  bool writeQueueFull();

  void write(std::string bytes);
  void writeStatic(const char* data, size_t length);
  void submit(WriteRequest* request);

  Server& server_;
  uint64_t id_;
  Phase phase_ = Phase::ReadingRequests;
  uv_tcp_t tcp_{};
  uv_timer_t lingerTimer_{};
  uv_shutdown_t shutdownReq_{};
  int openHandles_ = 0;
  bool reading_ = false;
  bool peerEof_ = false;
  bool writeBlocked_ = false;  // pendingWriteBytes_ crossed kHighWatermark; reset below half
  size_t pendingWriteBytes_ = 0;

  std::unique_ptr<char[]> readBuffer_;
  size_t readStart_ = 0;
  size_t readEnd_ = 0;

  std::string peerAddress_;
  uint16_t peerPort_ = 0;

  // HTTP state.
  parser::RequestParser parser_;
  uint64_t requestCount_ = 0;
  uint64_t bodyLength_ = 0;
  EVP_MD_CTX* bodyHash_ = nullptr;
  uint64_t bodyRemaining_ = 0;  // /bytes/N still to be written
  uint64_t bodyOffset_ = 0;     // position in the pattern
  bool closeAfterResponse_ = false;

  // WebSocket state: the data frame being echoed, if any.
  bool inDataFrame_ = false;
  bool inFragmentedMessage_ = false;
  uint64_t frameRemaining_ = 0;
  uint64_t frameOffset_ = 0;
  uint8_t frameMask_[4] = {0, 0, 0, 0};
};

}  // namespace hoplite::demo
