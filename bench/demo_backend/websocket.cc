#include "bench/demo_backend/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>

namespace hoplite::demo {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string webSocketAccept(std::string_view key) {
  std::string input(key);
  input.append(kWebSocketGuid);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  // EVP_EncodeBlock writes 4 characters per 3 input bytes plus a terminating NUL.
  std::array<unsigned char, 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1> encoded{};
  const int length = EVP_EncodeBlock(encoded.data(), digest.data(), SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(length));
}

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
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(data[i]); };
  FrameHeader header;
  header.fin = (byte(0) & 0x80) != 0;
  header.rsv = static_cast<uint8_t>((byte(0) >> 4) & 0x7);
  header.opcode = byte(0) & 0xF;
  header.masked = (byte(1) & 0x80) != 0;
  const uint8_t shortLength = byte(1) & 0x7F;
  size_t offset = 2;
  if (shortLength == 126) {
    if (data.size() < offset + 2) return FrameHeaderStatus::NeedMore;
    header.payloadLength = (uint64_t{byte(2)} << 8) | byte(3);
    offset += 2;
  } else if (shortLength == 127) {
    if (data.size() < offset + 8) return FrameHeaderStatus::NeedMore;
    for (size_t i = 0; i < 8; ++i) header.payloadLength = (header.payloadLength << 8) | byte(2 + i);
    offset += 8;
    if ((header.payloadLength >> 63) != 0) return FrameHeaderStatus::ProtocolError;
  } else {
    header.payloadLength = shortLength;
  }
  if (header.masked) {
    if (data.size() < offset + 4) return FrameHeaderStatus::NeedMore;
    for (size_t i = 0; i < 4; ++i) header.mask[i] = byte(offset + i);
    offset += 4;
  }
  header.headerLength = offset;

  switch (static_cast<Opcode>(header.opcode)) {
    case Opcode::Continuation:
    case Opcode::Text:
    case Opcode::Binary:
      break;
    case Opcode::Close:
    case Opcode::Ping:
    case Opcode::Pong:
      if (!header.fin || header.payloadLength > 125) return FrameHeaderStatus::ProtocolError;
      break;
    default:
      return FrameHeaderStatus::ProtocolError;
  }
  out = header;
  return FrameHeaderStatus::Complete;
}

std::string encodeFrameHeader(bool fin, uint8_t opcode, uint64_t payloadLength) {
  std::string header;
  header.push_back(static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0xF)));
  if (payloadLength < 126) {
    header.push_back(static_cast<char>(payloadLength));
  } else if (payloadLength <= 0xFFFF) {
    header.push_back(static_cast<char>(126));
    header.push_back(static_cast<char>((payloadLength >> 8) & 0xFF));
    header.push_back(static_cast<char>(payloadLength & 0xFF));
  } else {
    header.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      header.push_back(static_cast<char>((payloadLength >> shift) & 0xFF));
    }
  }
  return header;
}

void applyMask(char* data, size_t length, const uint8_t mask[4], uint64_t offset) {
  for (size_t i = 0; i < length; ++i) {
    data[i] = static_cast<char>(static_cast<uint8_t>(data[i]) ^ mask[(offset + i) & 3]);
  }
}

}  // namespace hoplite::demo
