#include "policy/upgrade.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <optional>

#include "policy/base64.h"
#include "policy/connection_tokens.h"
#include "policy/text.h"

namespace hoplite::policy {

namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// The SHA-1 implementation, fetched once. EVP_sha1() is a legacy handle: each EVP_Digest over it
// fetches the provider's implementation again (EVP_MD_fetch: a lock and a name lookup, about a
// third of a digest's cost). A function-local static is initialised once, thread-safely; it is
// never freed (one object for the life of the process). nullptr if OpenSSL cannot provide it.
const EVP_MD* sha1() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return md;
}

// Calls `visit(element)` for every element of every Upgrade field, in order (RFC 9110 §7.8: a
// list of protocol[/version]), walking the fields in place (this runs for every handshake).
template <typename Visit>
void forEachUpgradeElement(const parser::HeaderList& headers, Visit visit) {
  for (const parser::HeaderField& field : headers) {
    if (field.id == parser::HeaderId::Upgrade) forEachListElement(field.value, visit);
  }
}

// The protocol name of an Upgrade element, as sent: the part before any "/version".
std::string_view protocolName(std::string_view element) {
  return element.substr(0, element.find('/'));
}

// How many fields have the id `id`, and the value of the first of them.
struct FieldCount {
  size_t count = 0;
  std::string_view first;
};
FieldCount countFields(const parser::HeaderList& headers, parser::HeaderId id) {
  FieldCount result;
  for (const parser::HeaderField& field : headers) {
    if (field.id != id) continue;
    if (result.count++ == 0) result.first = field.value;
  }
  return result;
}

UpgradeRequest invalid(uint16_t status, std::string reason) {
  UpgradeRequest result;
  result.kind = UpgradeRequest::Kind::Invalid;
  result.status = status;
  result.reason = std::move(reason);
  return result;
}

// What a 426 for a WebSocket version other than 13 tells the client to use instead.
constexpr ExtraField kWebSocketVersionRequired[] = {
    {"Upgrade", "websocket"},
    {"Sec-WebSocket-Version", "13"},
};

// RFC 6455 §4.1 items 1, 7, 9 and §4.2.1: the parts of the opening handshake a proxy can check.
// Returns the Invalid answer when the handshake is not well formed, else nothing.
std::optional<UpgradeRequest> checkWebSocketHandshake(const parser::RequestHead& request) {
  if (request.method != "GET") return invalid(400, "a WebSocket handshake must use GET");
  if (!(request.framing == parser::Framing::None ||
        (request.framing == parser::Framing::Length && request.contentLength == 0))) {
    return invalid(400, "a WebSocket handshake must not carry a body");
  }
  const FieldCount keys = countFields(request.headers, parser::HeaderId::SecWebSocketKey);
  if (keys.count != 1) {
    return invalid(400, "a WebSocket handshake needs exactly one Sec-WebSocket-Key");
  }
  const std::optional<std::string> nonce = base64Decode(trimOws(keys.first));
  if (!nonce || nonce->size() != 16) {
    return invalid(400, "Sec-WebSocket-Key must be the base64 encoding of 16 bytes");
  }
  const FieldCount versions = countFields(request.headers, parser::HeaderId::SecWebSocketVersion);
  if (versions.count != 1) {
    return invalid(400, "a WebSocket handshake needs exactly one Sec-WebSocket-Version");
  }
  if (trimOws(versions.first) != "13") {
    // RFC 6455 §4.2.2: a version the server does not speak is answered with the ones it does.
    UpgradeRequest result = invalid(426, "only WebSocket version 13 is supported");
    result.responseFields = kWebSocketVersionRequired;
    return result;
  }
  return std::nullopt;
}

}  // namespace

// Contract: see upgrade.h. Decision order: not an upgrade at all (None), ignored for the version
// (None), no allowed protocol (Refused), improper handshake for an allowed protocol (Invalid),
// else Granted with the allowed elements only.
UpgradeRequest classifyUpgradeRequest(const parser::RequestHead& request,
                                      const conf::UpgradeSettings& settings) {
  UpgradeRequest result;
  bool anyOffered = false;
  forEachUpgradeElement(request.headers, [&](std::string_view) { anyOffered = true; });
  if (!anyOffered) return result;  // no Upgrade field, or only empty elements
  if (!request.isHttp11OrLater()) {
    // RFC 9110 §7.8: a server MUST ignore Upgrade received in an HTTP/1.0 request (the field may
    // have been forwarded blindly by a 1.0 proxy that did not understand Connection).
    result.reason = "Upgrade in an HTTP/1.0 request is ignored";
    return result;
  }
  if (!hasConnectionToken(request.headers, "upgrade")) {
    // RFC 9110 §7.8: a sender of Upgrade MUST also send the "upgrade" connection option; without
    // it the field is a leftover from another hop and is stripped like any hop-by-hop field.
    result.reason = "Upgrade without the \"upgrade\" Connection option is ignored";
    return result;
  }

  std::string granted;
  std::string_view firstProtocol;
  bool webSocket = false;
  forEachUpgradeElement(request.headers, [&](std::string_view element) {
    if (!isUpgradeAllowed(element, settings.allow)) return;
    const std::string_view name = protocolName(element);
    if (!granted.empty()) granted.append(", ");
    granted.append(element);
    if (firstProtocol.empty()) firstProtocol = name;
    if (parser::equalsIgnoreCase(name, "websocket")) webSocket = true;
  });
  if (granted.empty()) {
    result.kind = UpgradeRequest::Kind::Refused;
    result.reason = "upgrade to ";
    bool first = true;
    forEachUpgradeElement(request.headers, [&](std::string_view element) {
      if (!first) result.reason.append(", ");
      result.reason.append(element);
      first = false;
    });
    result.reason.append(" is not allowed");
    return result;
  }
  if (webSocket) {
    if (std::optional<UpgradeRequest> problem = checkWebSocketHandshake(request)) return *problem;
    result.webSocketKey =
        std::string(trimOws(*parser::findHeader(request.headers, "Sec-WebSocket-Key")));
  } else if (request.framing != parser::Framing::None &&
             !(request.framing == parser::Framing::Length && request.contentLength == 0)) {
    // Only body-less requests are switched (as h2o does): the tunnel must start right after the
    // request head, not somewhere inside a body the proxy is still re-framing.
    result.kind = UpgradeRequest::Kind::Refused;
    result.reason = "an upgrade request with a body is not switched";
    return result;
  }
  result.kind = UpgradeRequest::Kind::Granted;
  result.upgradeValue = std::move(granted);
  result.protocol = toLowerAscii(firstProtocol);
  return result;
}

// Contract: see upgrade.h. Every Upgrade element of the 101 must be one the client offered (and
// hoplite forwarded), compared case-insensitively as RFC 9110 §7.8 says protocol names are.
UpgradeResponse classifyUpgradeResponse(const UpgradeRequest& request,
                                        const parser::ResponseHead& response) {
  if (response.status != 101) return UpgradeResponse::NotSwitching;
  if (request.kind != UpgradeRequest::Kind::Granted) return UpgradeResponse::Invalid;
  // A 101 only exists in HTTP/1.1 (RFC 9110 §15.2.2 via §7.8); a 1.0 server cannot switch.
  if (!(response.versionMajor == 1 && response.versionMinor == 1)) return UpgradeResponse::Invalid;
  if (!hasConnectionToken(response.headers, "upgrade")) return UpgradeResponse::Invalid;

  bool anyChosen = false;
  bool allOffered = true;
  bool webSocket = false;
  forEachUpgradeElement(response.headers, [&](std::string_view element) {
    anyChosen = true;
    allOffered = allOffered && findListElement(request.upgradeValue, [&](std::string_view offered) {
                   return parser::equalsIgnoreCase(offered, element);
                 });
    if (parser::equalsIgnoreCase(protocolName(element), "websocket")) webSocket = true;
  });
  if (!anyChosen || !allOffered) return UpgradeResponse::Invalid;
  if (webSocket) {
    // RFC 6455 §4.1 (client side, item 4 of the response checks): the accept value proves the
    // server read this very handshake, so a cached or smuggled 101 cannot open a tunnel.
    const FieldCount accepts = countFields(response.headers, parser::HeaderId::SecWebSocketAccept);
    if (accepts.count != 1 || request.webSocketKey.empty() ||
        trimOws(accepts.first) != webSocketAccept(request.webSocketKey)) {
      return UpgradeResponse::Invalid;
    }
  }
  return UpgradeResponse::Accepted;
}

bool isUpgradeAllowed(std::string_view element, std::span<const std::string> allow) {
  const std::string_view name = protocolName(element);
  return std::any_of(allow.begin(), allow.end(), [&](const std::string& allowed) {
    return parser::equalsIgnoreCase(name, allowed);
  });
}

void prepareWebSocketAccept() {
  // Loads openssl.cnf and the default provider now rather than on the first handshake.
  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
  sha1();
}

// Contract: RFC 6455 §4.2.2 item 5.4: base64 of the SHA-1 of the key (as sent, trimmed by the
// caller) concatenated with the GUID.
std::string webSocketAccept(std::string_view key) {
  const EVP_MD* md = sha1();
  if (md == nullptr) return {};  // no SHA-1 in this OpenSSL; no valid 101 can match ""
  // key + GUID on the stack: a valid key is 24 characters, so 60 bytes; longer ones (never
  // granted, but the function takes any key) go through a string.
  char stackInput[128];
  std::string heapInput;
  const char* input = stackInput;
  const size_t size = key.size() + kWebSocketGuid.size();
  if (size <= sizeof stackInput) {
    key.copy(stackInput, key.size());
    kWebSocketGuid.copy(stackInput + key.size(), kWebSocketGuid.size());
  } else {
    heapInput.assign(key).append(kWebSocketGuid);
    input = heapInput.data();
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(input, size, digest, &length, md, nullptr) != 1) {
    return {};  // only on allocation failure inside OpenSSL; no valid 101 can match ""
  }
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace hoplite::policy
