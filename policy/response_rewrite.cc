#include "policy/response_rewrite.h"

#include <charconv>
#include <optional>

#include "policy/hop_by_hop.h"
#include "policy/text.h"
#include "policy/upgrade.h"

namespace hoplite::policy {

namespace {

constexpr std::string_view kViaSelf = "1.1 hoplite";

struct StatusPhrase {
  uint16_t status;
  std::string_view phrase;
};

// RFC 9110 §15, plus the registered codes a reverse proxy meets in practice (102 and 207 from
// WebDAV, 103 from RFC 8297, 428/429/431/511 from RFC 6585, 451 from RFC 7725).
constexpr StatusPhrase kPhrases[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {511, "Network Authentication Required"},
};

// RFC 9112 §4 allows HTAB, SP, VCHAR and obs-text in a reason phrase. hoplite passes on only
// printable ASCII: obs-text has no defined charset and is a favourite of log-injection tricks.
bool isSafeReason(std::string_view reason) {
  if (reason.empty()) return false;
  for (char c : reason) {
    if (c != '\t' && (c < 0x20 || c > 0x7e)) return false;
  }
  return true;
}

// The status line, always HTTP/1.1: hoplite speaks HTTP/1.1 to every client (RFC 9110 §6.2, a
// server sends its own highest version; an HTTP/1.0 client still reads the response).
void appendStatusLine(std::string& out, uint16_t status, std::string_view reason) {
  out.append("HTTP/1.1 ");
  out.append(std::to_string(status));
  out.push_back(' ');
  out.append(isSafeReason(reason) ? reason : reasonPhrase(status));
  out.append("\r\n");
}

// Every Via field that `filter` keeps, merged, with hoplite appended (RFC 9110 §7.6.3).
std::string mergedVia(const parser::HeaderList& fields, const HopByHopFilter& filter) {
  std::string via;
  for (const parser::HeaderField& field : fields) {
    if (field.id != parser::HeaderId::Via || !filter.keeps(field)) continue;
    if (!via.empty()) via.append(", ");
    via.append(field.value);
  }
  if (!via.empty()) via.append(", ");
  via.append(kViaSelf);
  return via;
}

// The upstream's Content-Length, when it is a plain decimal: what a HEAD or 304 response keeps
// (RFC 9110 §8.6: there it describes the representation, not this message's body).
std::optional<uint64_t> declaredLength(const parser::HeaderList& headers) {
  const std::string* value = parser::findHeader(headers, parser::HeaderId::ContentLength);
  if (value == nullptr || value->empty()) return std::nullopt;
  uint64_t length = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), length);
  if (ec != std::errc() || end != value->data() + value->size()) return std::nullopt;
  return length;
}

// The elements of the upstream's Upgrade fields whose protocol (the name before any "/version")
// is in `allow`, compared case-insensitively (RFC 9110 §7.8), as one list value.
std::string allowedUpgrades(const parser::HeaderList& headers, std::span<const std::string> allow) {
  std::string upgrade;
  for (const parser::HeaderField& field : headers) {
    if (field.id != parser::HeaderId::Upgrade) continue;
    forEachListElement(field.value, [&](std::string_view element) {
      if (!isUpgradeAllowed(element, allow)) return;
      if (!upgrade.empty()) upgrade.append(", ");
      upgrade.append(element);
    });
  }
  return isSafeFieldValue(upgrade) ? upgrade : std::string();
}

}  // namespace

// Contract: see response_rewrite.h. Head order: status line, end-to-end fields in arrival order,
// Via, the framing field, Connection, then Upgrade for an accepted 101.
ClientResponse buildClientResponse(const parser::ResponseHead& response,
                                   const ResponseContext& context) {
  ClientResponse result;
  const bool clientIs11 = context.clientVersionMajor > 1 ||
                          (context.clientVersionMajor == 1 && context.clientVersionMinor >= 1);

  if (response.status < 200) {
    // RFC 9110 §15.2: a proxy MUST NOT forward a 1xx response to an HTTP/1.0 client. A 101 that
    // was not accepted never reaches the client either: the engine answers 502 instead.
    if (!clientIs11) return result;
    if (response.status == 101 && !context.upgradeAccepted) return result;
  }

  // Hop-by-hop fields are filtered on the way into the head, not copied out first.
  const HopByHopFilter filter(response.headers);
  std::string& head = result.head;
  size_t estimate = 256 + response.reason.size();
  for (const parser::HeaderField& field : response.headers) {
    estimate += field.name.size() + field.value.size() + 4;
  }
  head.reserve(estimate);
  appendStatusLine(head, response.status, response.reason);
  // Interim 100 and 103 responses do not carry the ID: the final response does.
  const bool withRequestId = !context.requestIdName.empty() &&
                             (response.status >= 200 || response.status == 101) &&
                             isSafeFieldValue(context.requestId);
  for (const parser::HeaderField& field : response.headers) {
    if (context.via && field.id == parser::HeaderId::Via) continue;  // merged below
    if (!filter.keeps(field) || !parser::isToken(field.name) || !isSafeFieldValue(field.value)) {
      continue;
    }
    if (withRequestId && parser::equalsIgnoreCase(field.name, context.requestIdName)) continue;
    appendField(head, field.name, field.value);
  }
  if (context.via) appendField(head, "Via", mergedVia(response.headers, filter));
  if (withRequestId) appendField(head, context.requestIdName, context.requestId);

  if (response.status < 200) {
    if (response.status == 101) {
      // An accepted switch: the tunnel replaces this connection, so it has no framing and no
      // keep-alive; Connection + Upgrade are rewritten from the upstream's Upgrade value.
      std::string upgrade;
      for (const parser::HeaderField& field : response.headers) {
        if (field.id != parser::HeaderId::Upgrade) continue;
        forEachListElement(field.value, [&](std::string_view element) {
          if (!upgrade.empty()) upgrade.append(", ");
          upgrade.append(element);
        });
      }
      appendField(head, "Connection", "upgrade");
      if (isSafeFieldValue(upgrade)) appendField(head, "Upgrade", upgrade);
    }
    // Other interim responses (100, 103) have no body and say nothing about the connection.
    head.append("\r\n");
    return result;
  }

  // RFC 9110 §6.4.1 / RFC 9112 §6.3 items 1: no content for HEAD, 204 and 304.
  const bool isHead = context.requestMethod == "HEAD";
  const bool noContent = isHead || response.status == 204 || response.status == 304;
  if (noContent) {
    if (isHead || response.status == 304) {
      if (const std::optional<uint64_t> length = declaredLength(response.headers)) {
        appendField(head, "Content-Length", std::to_string(*length));
      }
    }
  } else {
    switch (response.framing) {
      case parser::Framing::Length:
        result.bodyFraming = parser::Framing::Length;
        result.contentLength = response.contentLength;
        appendField(head, "Content-Length", std::to_string(response.contentLength));
        break;
      case parser::Framing::Chunked:
      case parser::Framing::UntilClose:
        if (clientIs11) {
          // Re-chunking a close-delimited body keeps the client connection reusable.
          result.bodyFraming = parser::Framing::Chunked;
          appendField(head, "Transfer-Encoding", "chunked");
        } else {
          // RFC 9112 §6.1: chunked MUST NOT be sent to an HTTP/1.0 client; close delimits.
          result.bodyFraming = parser::Framing::UntilClose;
          result.closeAfter = true;
        }
        break;
      case parser::Framing::None:
        // A status that may have content but carries none: say so, else the client would read
        // until close (RFC 9112 §6.3 item 8).
        appendField(head, "Content-Length", "0");
        break;
    }
  }

  // An HTTP/1.0 client cannot upgrade (RFC 9110 §7.8), so it is told nothing of it.
  const std::string upgrade = response.status == 426 && clientIs11
                                  ? allowedUpgrades(response.headers, context.upgradeAllow)
                                  : std::string();
  if (!context.clientKeepAlive || context.forceClose) result.closeAfter = true;
  if (result.closeAfter) {
    appendField(head, "Connection", upgrade.empty() ? "close" : "upgrade, close");
  } else if (!clientIs11) {
    // RFC 9112 §9.3: an HTTP/1.0 connection persists only when the response says keep-alive.
    appendField(head, "Connection", "keep-alive");
  } else if (!upgrade.empty()) {
    appendField(head, "Connection", "upgrade");
  }
  if (!upgrade.empty()) appendField(head, "Upgrade", upgrade);
  head.append("\r\n");
  return result;
}

// Contract: see response_rewrite.h. `detail` goes into the body with control characters replaced
// by spaces, so a reason copied from a peer cannot break the message.
std::string buildErrorResponse(uint16_t status, std::string_view detail,
                               std::span<const ExtraField> extra) {
  std::string body = std::to_string(status);
  body.push_back(' ');
  body.append(reasonPhrase(status));
  if (!detail.empty()) {
    body.append(": ");
    for (char c : detail) {
      const auto byte = static_cast<unsigned char>(c);
      const bool control = byte < 0x20 || byte == 0x7f;
      body.push_back(control ? ' ' : c);
    }
  }
  body.push_back('\n');

  std::string out;
  out.reserve(128 + body.size());
  appendStatusLine(out, status, {});
  appendField(out, "Content-Type", "text/plain");
  appendField(out, "Content-Length", std::to_string(body.size()));
  bool upgrade = false;
  for (const ExtraField& field : extra) {
    appendField(out, field.name, field.value);
    upgrade = upgrade || parser::equalsIgnoreCase(field.name, "Upgrade");
  }
  appendField(out, "Connection", upgrade ? "upgrade, close" : "close");
  out.append("\r\n");
  out.append(body);
  return out;
}

std::string_view reasonPhrase(uint16_t status) {
  for (const StatusPhrase& entry : kPhrases) {
    if (entry.status == status) return entry.phrase;
  }
  return "Unknown";
}

}  // namespace hoplite::policy
