#include "bench/websocket/frame_format.h"

#include <cstring>

namespace hoplite::bench::websocket {

namespace {

constexpr std::uint8_t kMaskBit = 0x80;
constexpr std::uint8_t kLength16 = 126;  // 7-bit length values that announce a longer field
constexpr std::uint8_t kLength64 = 127;
constexpr std::uint64_t kMaxControlPayload = 125;

bool isKnownOpcode(std::uint8_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::Continuation:
    case Opcode::Text:
    case Opcode::Binary:
    case Opcode::Close:
    case Opcode::Ping:
    case Opcode::Pong:
      return true;
  }
  return false;
}

}  // namespace

bool isAllowedFrame(std::uint8_t opcode, bool fin, std::uint64_t payloadLength) {
  if (!isKnownOpcode(opcode) || (payloadLength >> 63) != 0) return false;
  return !isControl(opcode) || (fin && payloadLength <= kMaxControlPayload);
}

std::size_t frameHeaderSize(std::uint64_t payloadLength, bool masked) {
  const std::size_t lengthField = payloadLength < kLength16 ? 0 : payloadLength <= 0xFFFF ? 2 : 8;
  return 2 + lengthField + (masked ? 4 : 0);
}

std::size_t frameHeaderSizeFromSecondByte(std::uint8_t secondByte) {
  const std::uint8_t shortLength = secondByte & 0x7F;
  const std::size_t lengthField = shortLength == kLength16 ? 2 : shortLength == kLength64 ? 8 : 0;
  return 2 + lengthField + ((secondByte & kMaskBit) != 0 ? 4 : 0);
}

std::uint64_t readPayloadLength(const std::uint8_t* header) {
  const std::uint8_t shortLength = header[1] & 0x7F;
  if (shortLength < kLength16) return shortLength;
  const std::size_t fieldSize = shortLength == kLength16 ? 2 : 8;
  std::uint64_t length = 0;
  for (std::size_t i = 0; i < fieldSize; ++i) length = (length << 8) | header[2 + i];
  return length;
}

std::size_t writeFrameHeader(std::uint8_t* out, bool fin, std::uint8_t opcode,
                             std::uint64_t payloadLength, const std::uint8_t* maskKey) {
  std::uint8_t* p = out;
  *p++ = static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | (opcode & 0xF));
  const std::uint8_t maskBit = maskKey != nullptr ? kMaskBit : 0;
  if (payloadLength < kLength16) {
    *p++ = static_cast<std::uint8_t>(maskBit | payloadLength);
  } else if (payloadLength <= 0xFFFF) {
    *p++ = maskBit | kLength16;
    *p++ = static_cast<std::uint8_t>(payloadLength >> 8);
    *p++ = static_cast<std::uint8_t>(payloadLength);
  } else {
    *p++ = maskBit | kLength64;
    for (int shift = 56; shift >= 0; shift -= 8) {
      *p++ = static_cast<std::uint8_t>(payloadLength >> shift);
    }
  }
  if (maskKey != nullptr) {
    std::memcpy(p, maskKey, 4);
    p += 4;
  }
  return static_cast<std::size_t>(p - out);
}

void copyMasked(const char* from, char* to, std::size_t length, const std::uint8_t mask[4],
                std::uint64_t offset) {
  // Eight bytes at a time: the key repeats every four bytes, so the key turned to start at
  // `offset` and written twice lines up with every eight-byte step.
  std::uint8_t turned[8];
  for (std::size_t k = 0; k < sizeof turned; ++k) turned[k] = mask[(offset + k) & 3];
  std::uint64_t wide = 0;
  std::memcpy(&wide, turned, sizeof wide);
  std::size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    std::uint64_t chunk = 0;
    std::memcpy(&chunk, from + i, 8);
    chunk ^= wide;
    std::memcpy(to + i, &chunk, 8);
  }
  for (; i < length; ++i) {
    to[i] = static_cast<char>(static_cast<std::uint8_t>(from[i]) ^ turned[i & 7]);
  }
}

}  // namespace hoplite::bench::websocket
