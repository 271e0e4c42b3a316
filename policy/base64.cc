#include "policy/base64.h"

#include <cstdint>

namespace hoplite::policy {

namespace {
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int symbolValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t group = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16 |
                           static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8 |
                           static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 2]));
    out.push_back(kAlphabet[(group >> 18) & 63]);
    out.push_back(kAlphabet[(group >> 12) & 63]);
    out.push_back(kAlphabet[(group >> 6) & 63]);
    out.push_back(kAlphabet[group & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (rest == 2) group |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    out.push_back(kAlphabet[(group >> 18) & 63]);
    out.push_back(kAlphabet[(group >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(group >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') {
    ++padding;
    if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      int value = symbolValue(c);
      if (value < 0) {
        // '=' is only valid as padding at the very end.
        if (c != '=' || !last || j < 4 - padding) return std::nullopt;
        value = 0;
      }
      group = group << 6 | static_cast<uint32_t>(value);
    }
    const size_t produced = last ? 3 - padding : 3;
    // Non-canonical encodings leave bits set that the padding throws away: reject them.
    if (last && padding == 1 && (group & 0xff) != 0) return std::nullopt;
    if (last && padding == 2 && (group & 0xffff) != 0) return std::nullopt;
    out.push_back(static_cast<char>((group >> 16) & 0xff));
    if (produced >= 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (produced >= 3) out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

}  // namespace hoplite::policy
