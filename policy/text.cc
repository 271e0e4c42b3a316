#include "policy/text.h"

#include <cstdint>
#include <cstring>

namespace hoplite::policy {

std::string toLowerAscii(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = toLowerAscii(c);
  return lower;
}

std::string_view trimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> splitCommaList(std::string_view value) {
  std::vector<std::string_view> elements;
  forEachListElement(value, [&](std::string_view element) { elements.push_back(element); });
  return elements;
}

bool endsWithIgnoreCase(std::string_view text, std::string_view suffix) {
  if (suffix.size() > text.size()) return false;
  text.remove_prefix(text.size() - suffix.size());
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (toLowerAscii(text[i]) != toLowerAscii(suffix[i])) return false;
  }
  return true;
}

// Eight bytes at a time: CR, LF and NUL are all below 0x0e, and a word with no byte below 0x0e
// (the "has less than" trick of Bit Twiddling Hacks) cannot hold one. A word that has such a byte
// (an HTAB, say) is looked at byte by byte.
bool isSafeFieldValue(std::string_view value) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  auto unsafe = [](char c) { return c == '\r' || c == '\n' || c == '\0'; };
  const char* p = value.data();
  size_t n = value.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if (((w - kOnes * 0x0e) & ~w & kHighs) == 0) continue;
    for (size_t i = 0; i < 8; ++i) {
      if (unsafe(p[i])) return false;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (unsafe(p[i])) return false;
  }
  return true;
}

void appendFields(std::string& out, const parser::HeaderList& fields) {
  for (const parser::HeaderField& field : fields) {
    if (!parser::isToken(field.name) || !isSafeFieldValue(field.value)) continue;
    appendField(out, field.name, field.value);
  }
}

}  // namespace hoplite::policy
