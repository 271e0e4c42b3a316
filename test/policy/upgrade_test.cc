// Upgrade rules (RFC 9110 §7.8, RFC 6455 §4) on both sides, and the WebSocket accept value.
#include "policy/upgrade.h"

#include <catch2/catch.hpp>
#include <string>

#include "policy/text.h"
#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

using Kind = UpgradeRequest::Kind;

constexpr const char* kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3
constexpr const char* kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// The RFC 6455 §1.3 handshake fields, without Host.
const std::string kWebSocket =
    "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
    "Sec-WebSocket-Version: 13";

// `body` is "none", "len:N" or "chunked".
parser::RequestHead requestHead(std::string_view version, std::string_view method,
                                std::string_view body, std::string_view headers) {
  parser::RequestHead head;
  head.method = std::string(method);
  head.target = "/chat";
  head.versionMinor = version == "1.0" ? 0 : 1;
  head.headers = test::fields(headers);
  head.host = "server.example.com";
  if (body == "chunked") {
    head.framing = parser::Framing::Chunked;
  } else if (body.substr(0, 4) == "len:") {
    head.framing = parser::Framing::Length;
    head.contentLength = std::stoull(std::string(body.substr(4)));
  }
  return head;
}

conf::UpgradeSettings allowing(std::string_view allow) {
  conf::UpgradeSettings settings;
  settings.allow.clear();
  for (std::string_view name : splitCommaList(allow)) settings.allow.emplace_back(name);
  return settings;
}

const char* kindName(Kind kind) {
  switch (kind) {
    case Kind::None:
      return "None";
    case Kind::Granted:
      return "Granted";
    case Kind::Refused:
      return "Refused";
    case Kind::Invalid:
      return "Invalid";
  }
  return "?";
}

TEST_CASE("policy: an upgrade request is granted, ignored, refused or invalid",
          "[policy][upgrade]") {
  // version, method, body, fields, upgrade.allow, expected kind, forwarded Upgrade value
  auto [version, method, body, headers, allow, kind,
        value] = GENERATE_REF(table<std::string, std::string, std::string, std::string, std::string,
                                    std::string, std::string>({
      // A plain request is not an upgrade.
      {"1.1", "GET", "none", "Accept: */*", "websocket", "None", ""},
      // RFC 6455 §1.3's handshake is granted.
      {"1.1", "GET", "none", kWebSocket, "websocket", "Granted", "websocket"},
      // Protocol names are case-insensitive; the value is forwarded as sent.
      {"1.1", "GET", "none",
       "Connection: keep-alive, UPGRADE\nUpgrade: WebSocket\nSec-WebSocket-Key: " +
           std::string(kSampleKey) + "\nSec-WebSocket-Version: 13",
       "websocket", "Granted", "WebSocket"},
      // RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored.
      {"1.0", "GET", "none", kWebSocket, "websocket", "None", ""},
      // Upgrade without the "upgrade" connection option is a leftover, ignored.
      {"1.1", "GET", "none", "Connection: keep-alive\nUpgrade: websocket", "websocket", "None", ""},
      // The option without an Upgrade field is nothing either.
      {"1.1", "GET", "none", "Connection: upgrade", "websocket", "None", ""},
      // An Upgrade field of empty elements offers nothing.
      {"1.1", "GET", "none", "Connection: upgrade\nUpgrade: , ,", "websocket", "None", ""},
      // The option may come in a second Connection field.
      {"1.1", "GET", "none", "Connection: keep-alive\n" + kWebSocket, "websocket", "Granted",
       "websocket"},
      // h2c is not allowed by default: refused, the request goes on as plain HTTP.
      {"1.1", "GET", "none",
       "Connection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAAQ",
       "websocket", "Refused", ""},
      // Only the allowed protocols of a list are forwarded.
      {"1.1", "GET", "none", kWebSocket + "\nUpgrade: foo/1", "websocket", "Granted", "websocket"},
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: h2c, websocket\nSec-WebSocket-Key: " +
           std::string(kSampleKey) + "\nSec-WebSocket-Version: 13",
       "websocket", "Granted", "websocket"},
      // Several allowed protocols keep the client's order (and version suffix).
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: foo/1, websocket\nSec-WebSocket-Key: " +
           std::string(kSampleKey) + "\nSec-WebSocket-Version: 13",
       "websocket,foo", "Granted", "foo/1, websocket"},
      // A non-websocket protocol needs no handshake fields.
      {"1.1", "OPTIONS", "none", "Connection: upgrade\nUpgrade: foo/1", "foo", "Granted", "foo/1"},
      // ...but is switched only without a body.
      {"1.1", "POST", "len:5", "Connection: upgrade\nUpgrade: foo/1", "foo", "Refused", ""},
      // An empty allow list refuses even websocket.
      {"1.1", "GET", "none", kWebSocket, "", "Refused", ""},
      // RFC 6455 §4.1: the handshake is a GET...
      {"1.1", "POST", "none", kWebSocket, "websocket", "Invalid", ""},
      // ...without a body; Content-Length: 0 is no body.
      {"1.1", "GET", "len:5", kWebSocket, "websocket", "Invalid", ""},
      {"1.1", "GET", "len:0", kWebSocket, "websocket", "Granted", "websocket"},
      {"1.1", "GET", "chunked", kWebSocket, "websocket", "Invalid", ""},
      // ...with one Sec-WebSocket-Key that is base64 of exactly 16 bytes...
      {"1.1", "GET", "none", "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13",
       "websocket", "Invalid", ""},
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\n"
       "Sec-WebSocket-Version: 13",
       "websocket", "Invalid", ""},
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: websocket\n"
       "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\nSec-WebSocket-Version: 13",
       "websocket", "Invalid", ""},
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Key: not a valid key!\n"
       "Sec-WebSocket-Version: 13",
       "websocket", "Invalid", ""},
      {"1.1", "GET", "none",
       kWebSocket + "\nSec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==", "websocket", "Invalid", ""},
      // ...and Sec-WebSocket-Version 13.
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Key: " + std::string(kSampleKey) +
           "\nSec-WebSocket-Version: 8",
       "websocket", "Invalid", ""},
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Key: " + std::string(kSampleKey),
       "websocket", "Invalid", ""},
      // A bad websocket handshake is invalid even when another offered protocol is fine.
      {"1.1", "GET", "none", "Connection: upgrade\nUpgrade: foo, websocket", "foo,websocket",
       "Invalid", ""},
  }));
  CAPTURE(version, method, body, headers, allow);
  const UpgradeRequest result =
      classifyUpgradeRequest(requestHead(version, method, body, headers), allowing(allow));
  CAPTURE(result.reason);
  CHECK(kindName(result.kind) == kind);
  CHECK(result.upgradeValue == value);
  if (result.kind == Kind::Invalid) CHECK(result.status == 400);
  if (result.kind == Kind::Granted) {
    CHECK(result.protocol == toLowerAscii(value.substr(0, value.find_first_of("/,"))));
    const bool webSocket = toLowerAscii(value).find("websocket") != std::string::npos;
    CHECK(result.webSocketKey == (webSocket ? kSampleKey : ""));
  }
  if (result.kind == Kind::Refused || result.kind == Kind::Invalid) CHECK(!result.reason.empty());
}

const char* responseName(UpgradeResponse response) {
  switch (response) {
    case UpgradeResponse::NotSwitching:
      return "NotSwitching";
    case UpgradeResponse::Accepted:
      return "Accepted";
    case UpgradeResponse::Invalid:
      return "Invalid";
  }
  return "?";
}

// "ws": the RFC 6455 sample handshake, granted; "foo": "Upgrade: foo/1", granted; "h2c": refused;
// "none": a plain request.
UpgradeRequest offered(std::string_view which) {
  if (which == "ws") {
    return classifyUpgradeRequest(requestHead("1.1", "GET", "none", kWebSocket),
                                  allowing("websocket"));
  }
  if (which == "foo") {
    return classifyUpgradeRequest(
        requestHead("1.1", "GET", "none", "Connection: upgrade\nUpgrade: foo/1"), allowing("foo"));
  }
  if (which == "h2c") {
    return classifyUpgradeRequest(
        requestHead("1.1", "GET", "none", "Connection: upgrade\nUpgrade: h2c"),
        allowing("websocket"));
  }
  return classifyUpgradeRequest(requestHead("1.1", "GET", "none", ""), allowing("websocket"));
}

TEST_CASE("policy: only a 101 that answers the granted handshake opens a tunnel",
          "[policy][upgrade]") {
  const std::string good = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: " +
                           std::string(kSampleAccept);
  // request, status, response version, response fields, expected
  auto [request, status, version, headers,
        expected] = GENERATE_REF(table<std::string, int, std::string, std::string, std::string>({
      // RFC 6455 §1.3's answer is accepted.
      {"ws", 101, "1.1", good, "Accepted"},
      // Names and options compare case-insensitively.
      {"ws", 101, "1.1",
       "upgrade: WebSocket\nconnection: upgrade\nsec-websocket-accept: " +
           std::string(kSampleAccept),
       "Accepted"},
      // An accept value for some other key proves nothing.
      {"ws", 101, "1.1",
       "Upgrade: websocket\nConnection: Upgrade\n"
       "Sec-WebSocket-Accept: C/0nmHhBztSRGR1CwL6Tf4ZjwpY=",
       "Invalid"},
      {"ws", 101, "1.1", "Upgrade: websocket\nConnection: Upgrade", "Invalid"},
      {"ws", 101, "1.1", good + "\nSec-WebSocket-Accept: " + std::string(kSampleAccept), "Invalid"},
      // Connection must carry "upgrade" and Upgrade must name what was offered.
      {"ws", 101, "1.1", "Upgrade: websocket\nSec-WebSocket-Accept: " + std::string(kSampleAccept),
       "Invalid"},
      {"ws", 101, "1.1",
       "Upgrade: h2c\nConnection: upgrade\nSec-WebSocket-Accept: " + std::string(kSampleAccept),
       "Invalid"},
      {"ws", 101, "1.1", "Connection: upgrade\nSec-WebSocket-Accept: " + std::string(kSampleAccept),
       "Invalid"},
      // A 101 from an HTTP/1.0 server cannot be a switch.
      {"ws", 101, "1.0", good, "Invalid"},
      // A 101 nobody asked for (or to a refused upgrade) is never honoured.
      {"none", 101, "1.1", good, "Invalid"},
      {"h2c", 101, "1.1", "Upgrade: h2c\nConnection: upgrade", "Invalid"},
      // Any other status keeps HTTP mode.
      {"ws", 200, "1.1", "Content-Type: text/plain", "NotSwitching"},
      {"ws", 400, "1.1", "Connection: close", "NotSwitching"},
      {"ws", 426, "1.1", "Upgrade: websocket\nConnection: upgrade", "NotSwitching"},
      {"none", 200, "1.1", "", "NotSwitching"},
      // Other protocols need the offered token, version included.
      {"foo", 101, "1.1", "Upgrade: FOO/1\nConnection: upgrade", "Accepted"},
      {"foo", 101, "1.1", "Upgrade: foo/2\nConnection: upgrade", "Invalid"},
      {"foo", 101, "1.1", "Upgrade: foo/1, websocket\nConnection: upgrade", "Invalid"},
  }));
  CAPTURE(request, status, version, headers);
  parser::ResponseHead response;
  response.status = static_cast<uint16_t>(status);
  response.versionMinor = version == "1.0" ? 0 : 1;
  response.headers = test::fields(headers);
  CHECK(responseName(classifyUpgradeResponse(offered(request), response)) == expected);
}

TEST_CASE("policy: Sec-WebSocket-Accept is base64(SHA-1(key + GUID))", "[policy][upgrade]") {
  auto [key, accept] = GENERATE(table<std::string, std::string>({
      {kSampleKey, kSampleAccept},  // RFC 6455 §1.3
      {"AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="},
  }));
  CAPTURE(key);
  CHECK(webSocketAccept(key) == accept);
}

}  // namespace
}  // namespace hoplite::policy
