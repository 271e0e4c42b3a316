// RFC 6455 pieces the demo backend needs: the handshake's accept value and frame headers.
// Pure functions over bytes; no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hoplite::demo {

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 §4.2.2 item 5.4.
std::string webSocketAccept(std::string_view key);

// RFC 6455 §4.1: the key is the base64 encoding of exactly 16 bytes, so 24 characters ending in
// "==", and the last data character carries only two significant bits.
bool isValidWebSocketKey(std::string_view key);

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

inline bool isControl(uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

struct FrameHeader {
  bool fin = false;
  uint8_t rsv = 0;  // RSV1..3 as the three low bits; no extension is negotiated, so must be 0
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t mask[4] = {0, 0, 0, 0};
  uint64_t payloadLength = 0;
  size_t headerLength = 0;  // bytes the header occupies on the wire (2 to 14)
};

enum class FrameHeaderStatus : uint8_t { NeedMore, Complete, ProtocolError };

// Reads a frame header from the start of `data`. ProtocolError covers what RFC 6455 forbids
// whatever was negotiated: a 64-bit length with its top bit set (§5.2), control frames longer than
// 125 bytes or fragmented (§5.5), and unknown opcodes. A non-minimal length encoding is tolerated.
FrameHeaderStatus parseFrameHeader(std::string_view data, FrameHeader& out);

// An unmasked (server-to-client, §5.1) frame header for a payload of `payloadLength` bytes.
std::string encodeFrameHeader(bool fin, uint8_t opcode, uint64_t payloadLength);

// XORs `length` bytes with the mask, starting at byte `offset` of the frame's payload (§5.3), so a
// payload can be unmasked piece by piece as it arrives.
void applyMask(char* data, size_t length, const uint8_t mask[4], uint64_t offset);

}  // namespace hoplite::demo
