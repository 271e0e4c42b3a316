#include "bench/websocket/handshake.h"

#include <openssl/evp.h>

#include <cstddef>

namespace hoplite::bench::websocket {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

}  // namespace

std::string base64(std::span<const unsigned char> bytes) {
  // EVP_EncodeBlock writes 4 characters per 3 input bytes plus a terminating NUL.
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                      static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string secWebSocketAccept(std::string_view key) {
  std::string input(key);
  input.append(kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digestLength = 0;
  EVP_Digest(input.data(), input.size(), digest, &digestLength, EVP_sha1(), nullptr);
  return base64(std::span<const unsigned char>(digest, digestLength));
}

}  // namespace hoplite::bench::websocket
