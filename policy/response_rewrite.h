// The response head hoplite sends to the client, re-serialised canonically from a parsed head,
// and the framing and keep-alive decisions that go with it.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "parser/http_message.h"

namespace hoplite::policy {

struct ResponseContext {
  std::string_view requestMethod;  // "HEAD" responses carry no body
  uint8_t clientVersionMajor = 1;  // the client's request version decides the framing it can read
  uint8_t clientVersionMinor = 1;
  bool clientKeepAlive = true;   // the request allowed keep-alive
  bool upgradeAccepted = false;  // a 101 that classifyUpgradeResponse accepted
  bool forceClose = false;       // the proxy will close after this response (draining, errors)
  bool via = false;              // add "Via: 1.1 hoplite"
  // The protocols this route upgrades to (upgrade.allow, lower-case). A 426 keeps only these in
  // its Upgrade field: the client must be told what it can ask of this hop, hoplite.
  std::span<const std::string> upgradeAllow;
  // The request's ID and its field name (both empty when request_id is "off"): the upstream's
  // own fields of that name are replaced by this one, on final responses and an accepted 101.
  std::string_view requestIdName;
  std::string_view requestId;
};

struct ClientResponse {
  // "HTTP/1.1 status reason\r\n...\r\n\r\n". Empty when the response must not reach this client
  // (a 1xx interim response to an HTTP/1.0 client, RFC 9110 §15.2).
  std::string head;
  // How the proxy frames the body toward the client: None, Length (copied as is), Chunked (the
  // proxy writes chunk framing) or UntilClose (copied as is, then the connection is closed).
  parser::Framing bodyFraming = parser::Framing::None;
  uint64_t contentLength = 0;
  bool closeAfter = false;  // close the client connection once this response is complete
};

// Strips hop-by-hop fields (keeping Upgrade and "Connection: upgrade" for an accepted 101), writes
// the framing field (Content-Length, or Transfer-Encoding: chunked for a chunked or close-delimited
// body sent to an HTTP/1.1 client; an HTTP/1.0 client gets a close-delimited body instead), and
// "Connection: close" when closeAfter (or "Connection: keep-alive" to a keep-alive HTTP/1.0
// client).
//
// Details: the status line is always HTTP/1.1; the upstream's reason is kept when it is printable
// ASCII, else reasonPhrase(). HEAD/204/304 responses have framing None; HEAD and 304 keep the
// upstream's Content-Length (it describes the representation), 204 never has one. A final status
// that may have content but has framing None gets "Content-Length: 0". Interim 1xx heads carry no
// framing and no Connection field, and are empty for an HTTP/1.0 client; a 101 that is not
// `upgradeAccepted` gives an empty head too (the engine answers 502 instead). A 426 to an HTTP/1.1
// client keeps the Upgrade elements whose protocol is in `upgradeAllow`, with "upgrade" in
// Connection (RFC 9110 §15.5.22: a 426 names the protocols; §7.8: Upgrade is listed in Connection);
// every other final response loses Upgrade like any hop-by-hop field. Head order: status line,
// end-to-end fields, Via, the request ID, framing field, Connection (then Upgrade for a 101 or a
// 426). The upstream's own "Connection: close" never closes the client connection.
ClientResponse buildClientResponse(const parser::ResponseHead& response,
                                   const ResponseContext& context);

// A field that a response hoplite generates must carry besides its standard ones.
struct ExtraField {
  std::string_view name;
  std::string_view value;
};

// A complete response that hoplite itself generates: "HTTP/1.1 <status> <phrase>",
// Content-Type: text/plain, Content-Length, the `extra` fields in order, Connection: close, and a
// one-line body naming the status and `detail`. When `extra` has an Upgrade field, Connection is
// "upgrade, close": a sender of Upgrade must list it (RFC 9110 §7.8).
std::string buildErrorResponse(uint16_t status, std::string_view detail,
                               std::span<const ExtraField> extra = {});

// The standard reason phrase for a status code ("Bad Gateway"), or "Unknown".
std::string_view reasonPhrase(uint16_t status);

}  // namespace hoplite::policy
