#include "policy/hop_by_hop.h"

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "policy/connection_tokens.h"

namespace hoplite::policy {

namespace {
// Fields that describe one connection only. RFC 9110 §7.6.1 names Connection, Proxy-Connection,
// Keep-Alive, TE, Transfer-Encoding and Upgrade; Trailer announces fields of a chunked body that
// is re-framed anyway. HTTP2-Settings belongs to the h2c upgrade (RFC 7540 §3.2.1) and is
// connection-specific by definition. Content-Length is not hop-by-hop in the RFC's sense, but the
// proxy writes its own framing field after stripping, so the incoming one never goes through.
constexpr std::array<std::string_view, 9> kHopByHopNames = {
    "Connection", "Keep-Alive",     "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding",
    "Upgrade",    "HTTP2-Settings", "Content-Length",
};

// Fields a Connection token must never remove: Host is what routing and the upstream rely on
// (RFC 9110 §7.2), and a client naming it in Connection is trying to confuse someone.
constexpr std::array<std::string_view, 1> kProtectedNames = {"Host"};

bool isProtected(std::string_view name) {
  for (std::string_view protectedName : kProtectedNames) {
    if (parser::equalsIgnoreCase(name, protectedName)) return true;
  }
  return false;
}
}  // namespace

bool isHopByHopName(std::string_view name) {
  for (std::string_view hop : kHopByHopNames) {
    if (parser::equalsIgnoreCase(name, hop)) return true;
  }
  return false;
}

// Contract: drops the fixed list and every field named by a Connection token (RFC 9110 §7.6.1:
// "a proxy or gateway MUST ... remove any header or trailer field(s) ... identified in the
// Connection header field"), except the protected ones; keeps the order of everything else.
parser::HeaderList stripHopByHop(const parser::HeaderList& headers) {
  const std::vector<std::string> named = connectionTokens(headers);
  parser::HeaderList kept;
  kept.reserve(headers.size());
  for (const parser::HeaderField& field : headers) {
    if (isHopByHopName(field.name)) continue;
    if (!isProtected(field.name)) {
      bool isNamed = false;
      for (const std::string& token : named) {
        if (parser::equalsIgnoreCase(field.name, token)) {
          isNamed = true;
          break;
        }
      }
      if (isNamed) continue;
    }
    kept.push_back(field);
  }
  return kept;
}

}  // namespace hoplite::policy
