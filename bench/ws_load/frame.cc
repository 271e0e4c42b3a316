#include "frame.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "bench/websocket/handshake.h"

namespace ws_load {

namespace ws = hoplite::bench::websocket;

Random::Random() {
  std::random_device device;
  state_ = (static_cast<std::uint64_t>(device()) << 32) ^ device() ^ 0x9E3779B97F4A7C15ULL;
  if (state_ == 0) state_ = 1;
}

std::uint64_t Random::next() {
  // xorshift64*: a full-period generator with good high bits.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1DULL;
}

std::string makeHandshakeKey(Random& random) {
  unsigned char nonce[16];
  for (std::size_t i = 0; i < sizeof nonce; i += 8) {
    const std::uint64_t value = random.next();
    std::memcpy(nonce + i, &value, 8);
  }
  return ws::base64(nonce);
}

std::size_t clientFrameHeaderSize(std::uint64_t length) {
  return ws::frameHeaderSize(length, true);
}

void appendClientFrame(std::vector<char>& out, Opcode opcode, std::string_view payload,
                       std::uint32_t maskKey) {
  const std::size_t start = out.size();
  out.resize(start + clientFrameHeaderSize(payload.size()) + payload.size());
  auto* header = reinterpret_cast<std::uint8_t*>(out.data() + start);
  std::uint8_t mask[4];
  std::memcpy(mask, &maskKey, sizeof mask);
  const std::size_t headerSize =
      ws::writeFrameHeader(header, true, static_cast<std::uint8_t>(opcode), payload.size(), mask);
  // Masks while copying (eight bytes at a time), so the hot path reads and writes the payload once.
  ws::copyMasked(payload.data(), out.data() + start + headerSize, payload.size(), mask, 0);
}

bool FrameReader::parseHeader() {
  // Returns true once the header is complete and sets up the payload state.
  if (headerHave_ < 2 || headerHave_ < ws::frameHeaderSizeFromSecondByte(header_[1])) return false;
  fin_ = (header_[0] & 0x80) != 0;
  opcode_ = static_cast<Opcode>(header_[0] & 0x0F);
  payloadLeft_ = ws::readPayloadLength(header_);
  inPayload_ = true;
  control_.clear();
  return true;
}

bool FrameReader::feed(const char* data, std::size_t length, FrameSink& sink) {
  while (length > 0 || (inPayload_ && payloadLeft_ == 0)) {
    if (!inPayload_) {
      // Collect header bytes one at a time until the header is complete; headers are tiny.
      if (headerHave_ >= sizeof header_) return false;
      header_[headerHave_++] = static_cast<std::uint8_t>(*data);
      ++data;
      --length;
      if (!parseHeader()) continue;
      const std::uint8_t op = static_cast<std::uint8_t>(opcode_);
      if ((header_[1] & 0x80) != 0 || !ws::isAllowedFrame(op, fin_, payloadLeft_)) return false;
    }
    const bool control = ws::isControl(static_cast<std::uint8_t>(opcode_));
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(payloadLeft_, length));
    if (control) {
      control_.append(data, take);
    } else if (take > 0) {
      messageBytes_ += take;
      sink.onDataBytes(take);
    }
    data += take;
    length -= take;
    payloadLeft_ -= take;
    if (payloadLeft_ > 0) break;
    // Frame complete.
    inPayload_ = false;
    headerHave_ = 0;
    if (control) {
      sink.onControl(opcode_, control_);
    } else if (fin_) {
      const std::uint64_t total = messageBytes_;
      messageBytes_ = 0;
      sink.onMessageEnd(total);
    }
  }
  return true;
}

}  // namespace ws_load
