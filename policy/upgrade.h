// Upgrade rules (RFC 9110 §7.8, RFC 6455 §4): which upgrade requests are granted, and which 101
// responses are accepted.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "parser/http_message.h"
#include "policy/response_rewrite.h"

namespace hoplite::policy {

struct UpgradeRequest {
  enum class Kind : uint8_t {
    None,     // not an upgrade request (or one that is ignored, e.g. HTTP/1.0): plain HTTP
    Granted,  // forward with Connection: upgrade and `upgradeValue`
    Refused,  // protocol not allowed (e.g. h2c): Upgrade/HTTP2-Settings stripped, plain HTTP
    Invalid,  // an allowed protocol asked for improperly (bad WebSocket handshake): answer `status`
  };
  Kind kind = Kind::None;
  std::string upgradeValue;  // Granted: the Upgrade field value to forward (allowed tokens only)
  std::string protocol;      // Granted: lower-case protocol name of the first allowed token
  std::string webSocketKey;  // Granted websocket: the client's Sec-WebSocket-Key
  uint16_t status = 0;       // Invalid: 400, or 426 for a WebSocket version other than 13
  std::string reason;        // Invalid / Refused: why
  // Invalid: fields the error response must carry (426: Upgrade and Sec-WebSocket-Version).
  std::span<const ExtraField> responseFields;
};

// An upgrade request is HTTP/1.1 with an Upgrade field and "upgrade" among the Connection tokens.
// Only protocols in `settings.allow` are granted. A websocket upgrade must be GET, without a body
// (framing None, or Length 0), with exactly one Sec-WebSocket-Key that base64-decodes to 16 bytes
// and exactly one Sec-WebSocket-Version field; otherwise Invalid with status 400. A version other
// than 13 is Invalid with 426 Upgrade Required, and the response names the version hoplite speaks
// ("Sec-WebSocket-Version: 13", RFC 6455 §4.2.2) and the protocol ("Upgrade: websocket", which
// RFC 9110 §15.5.22 requires of a 426), so that a client can retry with it.
// Other allowed protocols are granted only without a body (else Refused), since the tunnel must
// start right after the head. Offering "websocket, foo/1" with only websocket allowed grants
// "websocket". `reason` also says why a None came back for an Upgrade field that was ignored.
UpgradeRequest classifyUpgradeRequest(const parser::RequestHead& request,
                                      const conf::UpgradeSettings& settings);

enum class UpgradeResponse : uint8_t {
  NotSwitching,  // any non-101 status: relay it and stay in HTTP mode
  Accepted,      // a valid 101: tunnel
  Invalid,       // a 101 that must not be honoured: answer 502
};

// A 101 is Accepted only if the request was Granted, Connection has "upgrade", the response's
// Upgrade names a protocol the client offered, and for websocket Sec-WebSocket-Accept equals
// webSocketAccept(key).
UpgradeResponse classifyUpgradeResponse(const UpgradeRequest& request,
                                        const parser::ResponseHead& response);

// True when the protocol of an Upgrade element (the name before any "/version") is in `allow`
// (upgrade.allow, lower-case), compared case-insensitively as RFC 9110 §7.8 says.
bool isUpgradeAllowed(std::string_view element, std::span<const std::string> allow);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), RFC 6455 §4.2.2. Thread-safe.
std::string webSocketAccept(std::string_view key);

// Optional: initialises OpenSSL (reading its config file) and fetches the SHA-1 implementation
// that webSocketAccept uses, so that the first handshake does not pay for either. Call it once at
// startup; webSocketAccept works without it.
void prepareWebSocketAccept();

}  // namespace hoplite::policy
