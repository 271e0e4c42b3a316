// One WebSocket client connection on libuv: TCP connect (optionally from a chosen local address),
// the RFC 6455 opening handshake with its Sec-WebSocket-Accept checked, masked frames out, and a
// streaming frame reader in. It reports to its owner and frees itself only in its close callback.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "frame.h"

namespace ws_load {

class Connection;

// The load run that owns the connections. Callbacks never free the connection they name.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // A loop-wide read buffer: every read is consumed inside its callback, so one suffices.
  virtual uv_buf_t readBuffer() = 0;
  virtual Random& random() = 0;
  virtual void onOpen(Connection& connection) = 0;
  virtual void onDataBytes(Connection& connection, std::size_t count) = 0;
  virtual void onMessage(Connection& connection, std::uint64_t bytes) = 0;
  // The connection is gone; `clean` means the closing handshake completed (or was not needed).
  // The object is deleted right after this returns.
  virtual void onClosed(Connection& connection, bool clean) = 0;
};

class Connection : public FrameSink {
 public:
  enum class Phase { Idle, Connecting, AwaitingHandshake, Open, CloseSent, Closing };

  Connection(ConnectionOwner& owner, uv_loop_t* loop, std::size_t slot);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts connecting. Returns false if no socket could be created (e.g. EMFILE): then no
  // handle is open, onClosed will not run, and the caller deletes the object. Any later failure
  // closes the connection, and onClosed follows from the close callback.
  bool start(const sockaddr_in& target, const sockaddr_in* source, const std::string& hostHeader,
             const std::string& path);
  // Sends one masked data frame (binary) carrying `payload`.
  void sendMessage(std::string_view payload);
  // Starts the closing handshake (RFC 6455 §5.5.1, status 1000). The server answers with a
  // Close frame and then closes TCP; we close on its EOF.
  void sendClose();
  // Ends the connection now. Idempotent; onClosed runs from the close callback.
  void close(bool clean);

  Phase phase() const { return phase_; }
  std::size_t slot() const { return slot_; }
  std::uint64_t startedAt() const { return startedAt_; }
  std::uint64_t phaseSince() const { return phaseSince_; }

  // Bookkeeping the owner keeps per connection.
  std::uint64_t messageSentAt = 0;
  std::uint64_t payloadSent = 0;
  std::uint64_t payloadReceived = 0;
  bool established = false;

  // FrameSink
  void onDataBytes(std::size_t count) override;
  void onMessageEnd(std::uint64_t messageBytes) override;
  void onControl(Opcode opcode, std::string_view payload) override;

 private:
  struct WriteRequest {
    uv_write_t req;
    Connection* owner;
    std::vector<char> bytes;
  };

  static void onConnectTrampoline(uv_connect_t* req, int status);
  static void onAllocTrampoline(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void onReadTrampoline(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWriteTrampoline(uv_write_t* req, int status);
  static void onCloseTrampoline(uv_handle_t* handle);

  void onConnect(int status);
  void onRead(ssize_t nread, const uv_buf_t* buf);
  void handleHandshakeBytes(const char* data, std::size_t length);
  void enterPhase(Phase phase);
  void writeFrame(Opcode opcode, std::string_view payload);

  ConnectionOwner& owner_;
  uv_loop_t* loop_;
  uv_tcp_t tcp_{};
  uv_connect_t connect_{};
  std::size_t slot_;
  Phase phase_ = Phase::Idle;
  bool handleOpen_ = false;
  bool clean_ = false;
  bool closeReceived_ = false;
  std::uint64_t startedAt_ = 0;
  std::uint64_t phaseSince_ = 0;
  std::string key_;
  std::string head_;  // response head bytes until the blank line
  FrameReader reader_;
};

}  // namespace ws_load
