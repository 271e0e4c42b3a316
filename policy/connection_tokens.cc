#include "policy/connection_tokens.h"

#include "policy/text.h"

namespace hoplite::policy {

// Contract: every Connection field (any name case) contributes its list elements, in field order
// (RFC 9110 §5.3: repeated fields are one comma-joined list), each trimmed of OWS and lower-cased
// (connection options are case-insensitive, §7.6.1); empty elements are skipped (§5.6.1).
std::vector<std::string> connectionTokens(const parser::HeaderList& headers) {
  std::vector<std::string> tokens;
  for (const parser::HeaderField& field : headers) {
    if (field.id != parser::HeaderId::Connection) continue;
    for (std::string_view element : splitCommaList(field.value)) {
      tokens.push_back(toLowerAscii(element));
    }
  }
  return tokens;
}

// Contract: `token` is compared case-insensitively, so callers may pass any case.
bool hasConnectionToken(const parser::HeaderList& headers, std::string_view token) {
  for (const parser::HeaderField& field : headers) {
    if (field.id != parser::HeaderId::Connection) continue;
    // Walks the list in place: no vector of elements per call.
    std::string_view rest = field.value;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view element = trimOws(rest.substr(0, comma));
      // RFC 9110 §5.6.1: empty elements are not tokens.
      if (!element.empty() && parser::equalsIgnoreCase(element, token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

}  // namespace hoplite::policy
