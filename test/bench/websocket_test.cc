// bench/websocket against the RFCs' own examples and a byte-by-byte reference.
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/websocket/frame_format.h"
#include "bench/websocket/handshake.h"

namespace hoplite::bench::websocket {
namespace {

std::string base64Of(std::string_view text) {
  return base64({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
}

TEST_CASE("bench: base64 gives RFC 4648's test vectors", "[bench][websocket]") {
  CHECK(base64Of("") == "");
  CHECK(base64Of("f") == "Zg==");
  CHECK(base64Of("fo") == "Zm8=");
  CHECK(base64Of("foo") == "Zm9v");
  CHECK(base64Of("foob") == "Zm9vYg==");
  CHECK(base64Of("fooba") == "Zm9vYmE=");
  CHECK(base64Of("foobar") == "Zm9vYmFy");
}

TEST_CASE("bench: the accept value of RFC 6455's example key", "[bench][websocket]") {
  // RFC 6455 §1.3.
  CHECK(secWebSocketAccept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("bench: masking matches the byte-by-byte definition at every offset",
          "[bench][websocket]") {
  const std::uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 §5.7's example key
  std::string payload(64, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 37 + 11);
  const size_t offset = GENERATE(0, 1, 3, 4, 7, 9);
  const size_t length = GENERATE(0, 1, 5, 8, 13, 16, 61);
  CAPTURE(offset, length);
  const std::string input = payload.substr(0, length);
  std::string expected = input;
  for (size_t i = 0; i < length; ++i)
    expected[i] = static_cast<char>(input[i] ^ mask[(offset + i) % 4]);

  std::string copied(length, '\0');
  copyMasked(input.data(), copied.data(), length, mask, offset);
  CHECK(copied == expected);

  std::string inPlace = input;
  applyMask(inPlace.data(), length, mask, offset);
  CHECK(inPlace == expected);
  applyMask(inPlace.data(), length, mask, offset);
  CHECK(inPlace == input);  // masking twice gives the payload back
}

TEST_CASE("bench: masking RFC 6455's example \"Hello\"", "[bench][websocket]") {
  // §5.7: a masked "Hello" is 0x7f 0x9f 0x4d 0x51 0x58 under the key 37 fa 21 3d.
  const std::uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  std::string hello = "Hello";
  applyMask(hello.data(), hello.size(), mask, 0);
  CHECK(hello == "\x7f\x9f\x4d\x51\x58");
}

TEST_CASE("bench: frame headers use the shortest length encoding and read back",
          "[bench][websocket]") {
  const std::uint64_t length = GENERATE(0ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 32);
  const bool masked = GENERATE(false, true);
  CAPTURE(length, masked);
  const std::uint8_t key[4] = {1, 2, 3, 4};
  std::array<std::uint8_t, 14> header{};
  const size_t size =
      writeFrameHeader(header.data(), true, static_cast<std::uint8_t>(Opcode::Binary), length,
                       masked ? key : nullptr);
  const size_t lengthBytes = length <= 125 ? 0 : length <= 0xffff ? 2 : 8;
  CHECK(size == 2 + lengthBytes + (masked ? 4 : 0));
  CHECK(size == frameHeaderSize(length, masked));
  CHECK(frameHeaderSizeFromSecondByte(header[1]) == size);
  CHECK(header[0] == (0x80 | 0x2));
  CHECK(((header[1] & 0x80) != 0) == masked);
  CHECK(readPayloadLength(header.data()) == length);
}

TEST_CASE("bench: frames RFC 6455 forbids are refused", "[bench][websocket]") {
  CHECK(isAllowedFrame(0x1, true, 10));
  CHECK(isAllowedFrame(0x0, false, 1ull << 40));
  CHECK(isAllowedFrame(0x9, true, 125));
  CHECK_FALSE(isAllowedFrame(0x9, true, 126));         // control frame over 125 bytes
  CHECK_FALSE(isAllowedFrame(0x8, false, 2));          // fragmented control frame
  CHECK_FALSE(isAllowedFrame(0x3, true, 0));           // reserved opcode
  CHECK_FALSE(isAllowedFrame(0x2, true, 1ull << 63));  // 64-bit length with the top bit set
}

}  // namespace
}  // namespace hoplite::bench::websocket
