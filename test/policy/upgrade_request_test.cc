// Upgrade requests (RFC 9110 §7.8, RFC 6455 §4.1): granted, ignored, refused or invalid.
#include <catch2/catch.hpp>
#include <string>

#include "policy/text.h"
#include "policy/upgrade.h"
#include "test/policy/upgrade_test_util.h"

namespace hoplite::policy {
namespace {

using Kind = UpgradeRequest::Kind;
using test::kSampleKey;
using test::kWebSocket;

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

// Every table below has these columns: version, method, body, fields, upgrade.allow, expected
// kind, forwarded Upgrade value.
using Row = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string,
                       std::string>;

void checkUpgradeRequest(const Row& row) {
  const auto& [version, method, body, headers, allow, kind, value] = row;
  CAPTURE(version, method, body, headers, allow);
  const UpgradeRequest result = classifyUpgradeRequest(
      test::requestHead(version, method, body, headers), test::allowing(allow));
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

TEST_CASE("policy: an upgrade needs both an Upgrade field and the upgrade connection option",
          "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // A plain request is not an upgrade.
      {"1.1", "GET", "none", "Accept: */*", "websocket", "None", ""},
      // Upgrade without the "upgrade" connection option is a leftover, ignored.
      {"1.1", "GET", "none", "Connection: keep-alive\nUpgrade: websocket", "websocket", "None", ""},
      // The option without an Upgrade field is nothing either.
      {"1.1", "GET", "none", "Connection: upgrade", "websocket", "None", ""},
      // An Upgrade field of empty elements offers nothing.
      {"1.1", "GET", "none", "Connection: upgrade\nUpgrade: , ,", "websocket", "None", ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: an HTTP/1.0 request's Upgrade is ignored", "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // RFC 9110 §7.8: Upgrade in an HTTP/1.0 request is ignored.
      {"1.0", "GET", "none", kWebSocket, "websocket", "None", ""},
      {"1.0", "OPTIONS", "none", "Connection: upgrade\nUpgrade: foo/1", "foo", "None", ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: the RFC 6455 handshake is granted", "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // RFC 6455 §1.3's handshake.
      {"1.1", "GET", "none", kWebSocket, "websocket", "Granted", "websocket"},
      // Protocol names are case-insensitive; the value is forwarded as sent.
      {"1.1", "GET", "none",
       "Connection: keep-alive, UPGRADE\nUpgrade: WebSocket\nSec-WebSocket-Key: " +
           std::string(kSampleKey) + "\nSec-WebSocket-Version: 13",
       "websocket", "Granted", "WebSocket"},
      // The option may come in a second Connection field.
      {"1.1", "GET", "none", "Connection: keep-alive\n" + kWebSocket, "websocket", "Granted",
       "websocket"},
      // Content-Length: 0 is no body.
      {"1.1", "GET", "len:0", kWebSocket, "websocket", "Granted", "websocket"},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: a protocol not in upgrade.allow is refused and the request stays plain HTTP",
          "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // h2c is not allowed by default.
      {"1.1", "GET", "none",
       "Connection: Upgrade, HTTP2-Settings\nUpgrade: h2c\nHTTP2-Settings: AAMAAABkAAQ",
       "websocket", "Refused", ""},
      {"1.1", "GET", "none", "Connection: upgrade\nUpgrade: foo/1", "websocket", "Refused", ""},
      // An empty allow list refuses even websocket.
      {"1.1", "GET", "none", kWebSocket, "", "Refused", ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: other allowed protocols need no handshake fields but must come without a body",
          "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // A non-websocket protocol needs no handshake fields...
      {"1.1", "OPTIONS", "none", "Connection: upgrade\nUpgrade: foo/1", "foo", "Granted", "foo/1"},
      // ...but is switched only without a body.
      {"1.1", "POST", "len:5", "Connection: upgrade\nUpgrade: foo/1", "foo", "Refused", ""},
      {"1.1", "POST", "chunked", "Connection: upgrade\nUpgrade: foo/1", "foo", "Refused", ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: of several offered protocols only the allowed ones are forwarded, in order",
          "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
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
      // A bad websocket handshake is invalid even when another offered protocol is fine.
      {"1.1", "GET", "none", "Connection: upgrade\nUpgrade: foo, websocket", "foo,websocket",
       "Invalid", ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: a websocket handshake must be a GET without a body, else 400",
          "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // RFC 6455 §4.1: the handshake is a GET...
      {"1.1", "POST", "none", kWebSocket, "websocket", "Invalid", ""},
      // ...without a body.
      {"1.1", "GET", "len:5", kWebSocket, "websocket", "Invalid", ""},
      {"1.1", "GET", "chunked", kWebSocket, "websocket", "Invalid", ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE(
    "policy: a websocket handshake needs one 16-byte Sec-WebSocket-Key and one version, else 400",
    "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, std::string, std::string, std::string,
                                     std::string, std::string, std::string>({
      // One Sec-WebSocket-Key that is base64 of exactly 16 bytes...
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
      // ...and exactly one Sec-WebSocket-Version field.
      {"1.1", "GET", "none",
       "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Key: " + std::string(kSampleKey),
       "websocket", "Invalid", ""},
      {"1.1", "GET", "none", kWebSocket + "\nSec-WebSocket-Version: 13", "websocket", "Invalid",
       ""},
  }));
  checkUpgradeRequest(row);
}

TEST_CASE("policy: a WebSocket version other than 13 gets 426 naming version 13",
          "[policy][upgrade]") {
  // RFC 6455 §4.2.2: the server answers a version it does not speak with the ones it does, and
  // RFC 9110 §15.5.22: a 426 names the protocol in Upgrade.
  const std::string version = GENERATE(as<std::string>{}, "8", "12", "14", "13, 8", "");
  CAPTURE(version);
  const UpgradeRequest result = classifyUpgradeRequest(
      test::requestHead("1.1", "GET", "none",
                        "Connection: upgrade\nUpgrade: websocket\nSec-WebSocket-Key: " +
                            std::string(kSampleKey) + "\nSec-WebSocket-Version: " + version),
      test::allowing("websocket"));
  CHECK(result.kind == Kind::Invalid);
  CHECK(result.status == 426);
  CHECK(!result.reason.empty());
  REQUIRE(result.responseFields.size() == 2);
  CHECK(result.responseFields[0].name == "Upgrade");
  CHECK(result.responseFields[0].value == "websocket");
  CHECK(result.responseFields[1].name == "Sec-WebSocket-Version");
  CHECK(result.responseFields[1].value == "13");
}

TEST_CASE("policy: a malformed handshake's 400 carries no extra fields", "[policy][upgrade]") {
  const UpgradeRequest result = classifyUpgradeRequest(
      test::requestHead("1.1", "GET", "none", "Connection: upgrade\nUpgrade: websocket"),
      test::allowing("websocket"));
  CHECK(result.kind == Kind::Invalid);
  CHECK(result.status == 400);
  CHECK(result.responseFields.empty());
}

}  // namespace
}  // namespace hoplite::policy
