// The server side of RFC 6455 for the demo backend: checking the client's key, reading the masked
// frame headers a client sends and writing the unmasked ones a server sends. What both ends share
// (accept value, opcodes, length encoding, masking) is in bench/websocket. Pure functions over
// bytes; no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hoplite::demo {

// RFC 6455 §4.1: the key is the base64 encoding of exactly 16 bytes, so 24 characters ending in
// "==", and the last data character carries only two significant bits.
bool isValidWebSocketKey(std::string_view key);

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
// whatever was negotiated (see bench::websocket::isAllowedFrame). A non-minimal length encoding is
// tolerated.
FrameHeaderStatus parseFrameHeader(std::string_view data, FrameHeader& out);

// An unmasked (server-to-client, §5.1) frame header for a payload of `payloadLength` bytes.
std::string encodeFrameHeader(bool fin, uint8_t opcode, uint64_t payloadLength);

}  // namespace hoplite::demo
