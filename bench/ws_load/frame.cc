#include "frame.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace ws_load {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(const unsigned char* data, std::size_t length) {
  std::string out(4 * ((length + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(length));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

bool isKnownOpcode(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

}  // namespace

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
  return base64(nonce, sizeof nonce);
}

std::string expectedAccept(std::string_view key) {
  std::string input(key);
  input.append(kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digestLength = 0;
  EVP_Digest(input.data(), input.size(), digest, &digestLength, EVP_sha1(), nullptr);
  return base64(digest, digestLength);
}

std::size_t clientFrameHeaderSize(std::uint64_t length) {
  if (length < 126) return 2 + 4;
  if (length <= 0xFFFF) return 4 + 4;
  return 10 + 4;
}

void appendClientFrame(std::vector<char>& out, Opcode opcode, std::string_view payload,
                       std::uint32_t maskKey) {
  const std::uint64_t length = payload.size();
  const std::size_t start = out.size();
  out.resize(start + clientFrameHeaderSize(length) + payload.size());
  auto* p = reinterpret_cast<unsigned char*>(out.data() + start);
  *p++ = static_cast<unsigned char>(0x80 | static_cast<std::uint8_t>(opcode));  // FIN
  if (length < 126) {
    *p++ = static_cast<unsigned char>(0x80 | length);
  } else if (length <= 0xFFFF) {
    *p++ = 0x80 | 126;
    *p++ = static_cast<unsigned char>(length >> 8);
    *p++ = static_cast<unsigned char>(length);
  } else {
    *p++ = 0x80 | 127;
    for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<unsigned char>(length >> shift);
  }
  unsigned char mask[4];
  std::memcpy(mask, &maskKey, 4);
  std::memcpy(p, mask, 4);
  p += 4;
  // Mask eight bytes at a time: the key repeats every four bytes, so a doubled key lines up.
  std::uint64_t wide = 0;
  std::memcpy(&wide, mask, 4);
  std::memcpy(reinterpret_cast<unsigned char*>(&wide) + 4, mask, 4);
  const char* src = payload.data();
  std::size_t i = 0;
  for (; i + 8 <= payload.size(); i += 8) {
    std::uint64_t chunk;
    std::memcpy(&chunk, src + i, 8);
    chunk ^= wide;
    std::memcpy(p + i, &chunk, 8);
  }
  for (; i < payload.size(); ++i) p[i] = static_cast<unsigned char>(src[i]) ^ mask[i % 4];
}

bool FrameReader::parseHeader() {
  // Returns true once the header is complete and sets up the payload state.
  if (headerHave_ < 2) return false;
  const std::uint8_t b0 = header_[0];
  const std::uint8_t b1 = header_[1];
  std::size_t need = 2;
  const std::uint8_t len7 = b1 & 0x7F;
  if (len7 == 126) need += 2;
  if (len7 == 127) need += 8;
  if (b1 & 0x80) need += 4;  // masked: invalid from a server, rejected in feed()
  if (headerHave_ < need) return false;
  std::uint64_t length = len7;
  if (len7 == 126) {
    length = (static_cast<std::uint64_t>(header_[2]) << 8) | header_[3];
  } else if (len7 == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | header_[2 + i];
  }
  fin_ = (b0 & 0x80) != 0;
  opcode_ = static_cast<Opcode>(b0 & 0x0F);
  payloadLeft_ = length;
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
      if ((header_[1] & 0x80) != 0 || !isKnownOpcode(op)) return false;
      if (op >= 0x8 && (payloadLeft_ > 125 || !fin_)) return false;
    }
    const bool control = static_cast<std::uint8_t>(opcode_) >= 0x8;
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
