// Small ASCII helpers shared by the policy rules: HTTP field values are octets, and every
// comparison the rules need is ASCII case-insensitive (RFC 9110 §5.1, §5.6.2), so nothing here
// depends on the locale.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "parser/http_message.h"

namespace hoplite::policy {

constexpr char toLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string toLowerAscii(std::string_view text);

// Removes optional whitespace (SP / HTAB, RFC 9110 §5.6.3) at both ends.
std::string_view trimOws(std::string_view text);

// Calls `visit(element)` for the elements of a comma-separated list (RFC 9110 §5.6.1) in order,
// OWS trimmed, empty elements skipped, case kept, until `visit` returns true; returns whether it
// did. The list is walked in place: elements are views into `value` and nothing is allocated,
// which matters on paths that run for every request or handshake.
template <typename Visit>
bool findListElement(std::string_view value, Visit visit) {
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view element = trimOws(value.substr(0, comma));
    // RFC 9110 §5.6.1: a recipient accepts and ignores empty list elements ("a, , b").
    if (!element.empty() && visit(element)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

// Calls `visit(element)` for every element of the list, as findListElement walks it.
template <typename Visit>
void forEachListElement(std::string_view value, Visit visit) {
  findListElement(value, [&](std::string_view element) {
    visit(element);
    return false;
  });
}

// The elements of a comma-separated list, as findListElement walks it, collected.
std::vector<std::string_view> splitCommaList(std::string_view value);

// True when `text` ends with `suffix`, ASCII case-insensitively.
bool endsWithIgnoreCase(std::string_view text, std::string_view suffix);

// True when a field value can be written as is: no CR, LF or NUL (RFC 9110 §5.5), which a
// serialiser must never emit whatever the parser let through.
bool isSafeFieldValue(std::string_view value);

// Appends "name: value\r\n".
inline void appendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(value);
  out.append("\r\n", 2);
}

// Appends every field whose name is a token and whose value is safe, in order. The parser already
// refuses anything else; skipping here keeps a serialiser from ever emitting a split line.
void appendFields(std::string& out, const parser::HeaderList& fields);

}  // namespace hoplite::policy
