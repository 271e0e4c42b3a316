#include "bench/demo_backend/websocket.h"

#include <cstring>

#include "bench/websocket/frame_format.h"

namespace hoplite::demo {

namespace {

namespace ws = bench::websocket;

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

bool isValidWebSocketKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (size_t i = 0; i < 22; ++i) {
    const size_t value = kBase64Alphabet.find(key[i]);
    if (value == std::string_view::npos) return false;
    // 16 bytes are 128 bits: 21 full characters and 2 bits of the 22nd, whose low 4 bits are 0.
    if (i == 21 && (value & 0xF) != 0) return false;
  }
  return true;
}

FrameHeaderStatus parseFrameHeader(std::string_view data, FrameHeader& out) {
  if (data.size() < 2) return FrameHeaderStatus::NeedMore;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  const size_t headerLength = ws::frameHeaderSizeFromSecondByte(bytes[1]);
  if (data.size() < headerLength) return FrameHeaderStatus::NeedMore;
  FrameHeader header;
  header.fin = (bytes[0] & 0x80) != 0;
  header.rsv = static_cast<uint8_t>((bytes[0] >> 4) & 0x7);
  header.opcode = bytes[0] & 0xF;
  header.masked = (bytes[1] & 0x80) != 0;
  header.payloadLength = ws::readPayloadLength(bytes);
  if (header.masked) std::memcpy(header.mask, bytes + headerLength - 4, 4);  // the mask ends it
  header.headerLength = headerLength;
  if (!ws::isAllowedFrame(header.opcode, header.fin, header.payloadLength)) {
    return FrameHeaderStatus::ProtocolError;
  }
  out = header;
  return FrameHeaderStatus::Complete;
}

std::string encodeFrameHeader(bool fin, uint8_t opcode, uint64_t payloadLength) {
  std::string header(ws::frameHeaderSize(payloadLength, false), '\0');
  ws::writeFrameHeader(reinterpret_cast<uint8_t*>(header.data()), fin, opcode, payloadLength,
                       nullptr);
  return header;
}

}  // namespace hoplite::demo
