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
    forEachListElement(field.value,
                       [&](std::string_view element) { tokens.push_back(toLowerAscii(element)); });
  }
  return tokens;
}

// Contract: `token` is compared case-insensitively, so callers may pass any case.
bool hasConnectionToken(const parser::HeaderList& headers, std::string_view token) {
  for (const parser::HeaderField& field : headers) {
    if (field.id != parser::HeaderId::Connection) continue;
    if (findListElement(field.value, [&](std::string_view element) {
          return parser::equalsIgnoreCase(element, token);
        })) {
      return true;
    }
  }
  return false;
}

}  // namespace hoplite::policy
