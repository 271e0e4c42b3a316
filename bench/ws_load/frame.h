// RFC 6455 pieces only a WebSocket *client* needs: the opening handshake's key, masked client
// frames, and a streaming reader for the (unmasked) frames a server sends. What both ends share
// (accept value, opcodes, length encoding, masking) is in bench/websocket. Pure code, no I/O, so
// the load tool's hot path is plain byte shuffling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bench/websocket/frame_format.h"

namespace ws_load {

// The shared opcodes, under the short name FrameSink and the connection use.
using Opcode = hoplite::bench::websocket::Opcode;

// A small, fast generator for masking keys and handshake nonces. RFC 6455 §5.3 asks for
// unpredictable masking keys; xorshift seeded from std::random_device is enough to keep the
// proxy under test from guessing them, which is all a load tool needs.
class Random {
 public:
  Random();
  std::uint64_t next();
  std::uint32_t next32() { return static_cast<std::uint32_t>(next() >> 32); }

 private:
  std::uint64_t state_;
};

// base64 of 16 random bytes (RFC 6455 §4.1, item 7).
std::string makeHandshakeKey(Random& random);

// Appends one complete, masked client frame carrying `payload` to `out` (RFC 6455 §5.2, §5.3).
void appendClientFrame(std::vector<char>& out, Opcode opcode, std::string_view payload,
                       std::uint32_t maskKey);

// Size of the frame header appendClientFrame writes for a payload of `length` bytes.
std::size_t clientFrameHeaderSize(std::uint64_t length);

// What the server's byte stream produced, one call per event.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // Bytes of a data frame's payload, counted as they arrive (never buffered).
  virtual void onDataBytes(std::size_t count) = 0;
  // A data message (text or binary, all its fragments) is complete.
  virtual void onMessageEnd(std::uint64_t messageBytes) = 0;
  // A control frame (ping, pong, close) is complete; its payload is at most 125 bytes.
  virtual void onControl(Opcode opcode, std::string_view payload) = 0;
};

// Streaming reader of server-to-client frames: accepts any split of the input, keeps at most one
// frame header and one control payload, and counts data payload without copying it.
class FrameReader {
 public:
  // Feeds bytes; returns false on a protocol error (a masked server frame, or one that
  // bench::websocket::isAllowedFrame refuses), after which the reader must not be used again.
  bool feed(const char* data, std::size_t length, FrameSink& sink);

 private:
  bool parseHeader();

  std::uint8_t header_[14] = {};
  std::size_t headerHave_ = 0;
  std::uint64_t payloadLeft_ = 0;
  bool inPayload_ = false;
  bool fin_ = false;
  Opcode opcode_ = Opcode::Continuation;
  std::string control_;
  std::uint64_t messageBytes_ = 0;
};

}  // namespace ws_load
