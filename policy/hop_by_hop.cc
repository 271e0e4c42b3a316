#include "policy/hop_by_hop.h"

#include <string_view>

#include "policy/text.h"

namespace hoplite::policy {

// Fields that describe one connection only. RFC 9110 §7.6.1 names Connection, Proxy-Connection,
// Keep-Alive, TE, Transfer-Encoding and Upgrade; Trailer announces fields of a chunked body that
// is re-framed anyway. HTTP2-Settings belongs to the h2c upgrade (RFC 7540 §3.2.1) and is
// connection-specific by definition. Content-Length is not hop-by-hop in the RFC's sense, but the
// proxy writes its own framing field after stripping, so the incoming one never goes through.
bool isHopByHopId(parser::HeaderId id) {
  switch (id) {
    case parser::HeaderId::Connection:
    case parser::HeaderId::KeepAlive:
    case parser::HeaderId::ProxyConnection:
    case parser::HeaderId::TE:
    case parser::HeaderId::Trailer:
    case parser::HeaderId::TransferEncoding:
    case parser::HeaderId::Upgrade:
    case parser::HeaderId::Http2Settings:
    case parser::HeaderId::ContentLength:
      return true;
    default:
      return false;
  }
}

bool isHopByHopName(std::string_view name) {
  return isHopByHopId(parser::classifyHeaderName(name));
}

namespace {
// Fields a Connection token must never remove: Host is what routing and the upstream rely on
// (RFC 9110 §7.2), and a client naming it in Connection is trying to confuse someone.
bool isProtectedId(parser::HeaderId id) {
  return id == parser::HeaderId::Host;
}
}  // namespace

// Contract: see hop_by_hop.h. Tokens are kept as sent; matching is ASCII case-insensitive, as
// connection options are (RFC 9110 §7.6.1).
HopByHopFilter::HopByHopFilter(const parser::HeaderList& headers) {
  for (const parser::HeaderField& field : headers) {
    if (field.id != parser::HeaderId::Connection) continue;
    forEachListElement(field.value, [&](std::string_view element) {
      const parser::HeaderId id = parser::classifyHeaderName(element);
      if (isHopByHopId(id) || isProtectedId(id)) return;
      if (count_ < kInlineTokens) {
        tokens_[count_] = element;
      } else {
        overflow_.push_back(element);
      }
      ++count_;
    });
  }
}

bool HopByHopFilter::isNamed(const parser::HeaderField& field) const {
  if (isProtectedId(field.id)) return false;
  const size_t inlineCount = count_ < kInlineTokens ? count_ : kInlineTokens;
  for (size_t i = 0; i < inlineCount; ++i) {
    if (parser::equalsIgnoreCase(field.name, tokens_[i])) return true;
  }
  for (std::string_view token : overflow_) {
    if (parser::equalsIgnoreCase(field.name, token)) return true;
  }
  return false;
}

// Contract: drops the fixed list and every field named by a Connection token (RFC 9110 §7.6.1:
// "a proxy or gateway MUST ... remove any header or trailer field(s) ... identified in the
// Connection header field"), except the protected ones; keeps the order of everything else.
parser::HeaderList stripHopByHop(const parser::HeaderList& headers) {
  const HopByHopFilter filter(headers);
  parser::HeaderList kept;
  kept.reserve(headers.size());
  for (const parser::HeaderField& field : headers) {
    if (filter.keeps(field)) kept.push_back(field);
  }
  return kept;
}

}  // namespace hoplite::policy
