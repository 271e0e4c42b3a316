// The RFC 6455 frame format as both ends see it (§5.2): opcodes, the rules every frame must keep,
// the header's length encoding, and masking (§5.3). Which side masks, and how frames are buffered,
// stays with each tool: demo_backend reads masked frames and writes unmasked ones, ws_load the
// reverse.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hoplite::bench::websocket {

enum class Opcode : std::uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

inline bool isControl(std::uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

// False for what RFC 6455 forbids whatever was negotiated: an unknown opcode, a 64-bit length with
// its top bit set (§5.2), and a control frame that is fragmented or longer than 125 bytes (§5.5).
bool isAllowedFrame(std::uint8_t opcode, bool fin, std::uint64_t payloadLength);

// Size of the header writeFrameHeader writes: 2, +2 or +8 for a long payload, +4 with a mask.
std::size_t frameHeaderSize(std::uint64_t payloadLength, bool masked);

// Bytes of a header whose first two bytes are known (the second says the length's size and
// whether a mask follows); a reader collects this many before calling readPayloadLength.
std::size_t frameHeaderSizeFromSecondByte(std::uint8_t secondByte);

// The payload length of a complete header starting at `header`. A non-minimal encoding is read
// as it stands.
std::uint64_t readPayloadLength(const std::uint8_t* header);

// Writes a header with the shortest length encoding and returns its size, frameHeaderSize(
// payloadLength, maskKey != nullptr). `maskKey` (4 bytes) is null for an unmasked frame.
std::size_t writeFrameHeader(std::uint8_t* out, bool fin, std::uint8_t opcode,
                             std::uint64_t payloadLength, const std::uint8_t* maskKey);

// Writes `length` bytes of `from`, XORed with the masking key, to `to` (which may be `from`).
// from[0] is byte `offset` of the frame's payload, so a payload can be (un)masked piece by piece
// as it arrives.
void copyMasked(const char* from, char* to, std::size_t length, const std::uint8_t mask[4],
                std::uint64_t offset);

// copyMasked in place.
inline void applyMask(char* data, std::size_t length, const std::uint8_t mask[4],
                      std::uint64_t offset) {
  copyMasked(data, data, length, mask, offset);
}

}  // namespace hoplite::bench::websocket
