// Upgrade responses (RFC 9110 §15.2.2, RFC 6455 §4.2.2): which 101 opens a tunnel, and the
// WebSocket accept value.
#include <catch2/catch.hpp>
#include <string>

#include "policy/upgrade.h"
#include "test/policy/upgrade_test_util.h"

namespace hoplite::policy {
namespace {

using test::kSampleAccept;
using test::kSampleKey;
using test::kWebSocket;

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
    return classifyUpgradeRequest(test::requestHead("1.1", "GET", "none", kWebSocket),
                                  test::allowing("websocket"));
  }
  if (which == "foo") {
    return classifyUpgradeRequest(
        test::requestHead("1.1", "GET", "none", "Connection: upgrade\nUpgrade: foo/1"),
        test::allowing("foo"));
  }
  if (which == "h2c") {
    return classifyUpgradeRequest(
        test::requestHead("1.1", "GET", "none", "Connection: upgrade\nUpgrade: h2c"),
        test::allowing("websocket"));
  }
  return classifyUpgradeRequest(test::requestHead("1.1", "GET", "none", ""),
                                test::allowing("websocket"));
}

// Every table below has these columns: request (as for offered), status, response version,
// response fields, expected classification.
using Row = std::tuple<std::string, int, std::string, std::string, std::string>;

void checkUpgradeResponse(const Row& row) {
  const auto& [request, status, version, headers, expected] = row;
  CAPTURE(request, status, version, headers);
  parser::ResponseHead response;
  response.status = static_cast<uint16_t>(status);
  response.versionMinor = version == "1.0" ? 0 : 1;
  response.headers = test::fields(headers);
  CHECK(responseName(classifyUpgradeResponse(offered(request), response)) == expected);
}

TEST_CASE("policy: the 101 that answers the granted handshake opens a tunnel",
          "[policy][upgrade]") {
  const std::string good = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: " +
                           std::string(kSampleAccept);
  const Row row = GENERATE_REF(table<std::string, int, std::string, std::string, std::string>({
      // RFC 6455 §1.3's answer is accepted.
      {"ws", 101, "1.1", good, "Accepted"},
      // Names and options compare case-insensitively.
      {"ws", 101, "1.1",
       "upgrade: WebSocket\nconnection: upgrade\nsec-websocket-accept: " +
           std::string(kSampleAccept),
       "Accepted"},
  }));
  checkUpgradeResponse(row);
}

TEST_CASE("policy: a websocket 101 needs exactly one Sec-WebSocket-Accept for the client's key",
          "[policy][upgrade]") {
  const std::string good = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: " +
                           std::string(kSampleAccept);
  const Row row = GENERATE_REF(table<std::string, int, std::string, std::string, std::string>({
      // An accept value for some other key proves nothing.
      {"ws", 101, "1.1",
       "Upgrade: websocket\nConnection: Upgrade\n"
       "Sec-WebSocket-Accept: C/0nmHhBztSRGR1CwL6Tf4ZjwpY=",
       "Invalid"},
      {"ws", 101, "1.1", "Upgrade: websocket\nConnection: Upgrade", "Invalid"},
      {"ws", 101, "1.1", good + "\nSec-WebSocket-Accept: " + std::string(kSampleAccept), "Invalid"},
  }));
  checkUpgradeResponse(row);
}

TEST_CASE("policy: a 101 needs Connection: upgrade and an Upgrade token the client offered",
          "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, int, std::string, std::string, std::string>({
      {"ws", 101, "1.1", "Upgrade: websocket\nSec-WebSocket-Accept: " + std::string(kSampleAccept),
       "Invalid"},
      {"ws", 101, "1.1",
       "Upgrade: h2c\nConnection: upgrade\nSec-WebSocket-Accept: " + std::string(kSampleAccept),
       "Invalid"},
      {"ws", 101, "1.1", "Connection: upgrade\nSec-WebSocket-Accept: " + std::string(kSampleAccept),
       "Invalid"},
      // Other protocols need the offered token, version included.
      {"foo", 101, "1.1", "Upgrade: FOO/1\nConnection: upgrade", "Accepted"},
      {"foo", 101, "1.1", "Upgrade: foo/2\nConnection: upgrade", "Invalid"},
      {"foo", 101, "1.1", "Upgrade: foo/1, websocket\nConnection: upgrade", "Invalid"},
  }));
  checkUpgradeResponse(row);
}

TEST_CASE("policy: a 101 from HTTP/1.0, unasked for or to a refused upgrade is invalid",
          "[policy][upgrade]") {
  const std::string good = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: " +
                           std::string(kSampleAccept);
  const Row row = GENERATE_REF(table<std::string, int, std::string, std::string, std::string>({
      // A 101 from an HTTP/1.0 server cannot be a switch.
      {"ws", 101, "1.0", good, "Invalid"},
      // A 101 nobody asked for (or to a refused upgrade) is never honoured.
      {"none", 101, "1.1", good, "Invalid"},
      {"h2c", 101, "1.1", "Upgrade: h2c\nConnection: upgrade", "Invalid"},
  }));
  checkUpgradeResponse(row);
}

TEST_CASE("policy: any status but 101 keeps HTTP mode", "[policy][upgrade]") {
  const Row row = GENERATE_REF(table<std::string, int, std::string, std::string, std::string>({
      {"ws", 200, "1.1", "Content-Type: text/plain", "NotSwitching"},
      {"ws", 400, "1.1", "Connection: close", "NotSwitching"},
      {"ws", 426, "1.1", "Upgrade: websocket\nConnection: upgrade", "NotSwitching"},
      {"none", 200, "1.1", "", "NotSwitching"},
  }));
  checkUpgradeResponse(row);
}

TEST_CASE("policy: Sec-WebSocket-Accept is base64(SHA-1(key + GUID))", "[policy][upgrade]") {
  auto [key, accept] = GENERATE(table<std::string, std::string>({
      {kSampleKey, kSampleAccept},  // RFC 6455 §1.3
      {"AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY="},
      // Any key hashes, whatever its length: the GUID alone, and keys on either side of the
      // function's 128-byte stack buffer (key + 36-byte GUID), and far beyond it.
      {"", "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},
      {std::string(92, 'x'), "N6jQH9SY1VrfN6p4qvkUdTUUhwQ="},
      {std::string(93, 'x'), "VLoMsYpfUyI53GDGVcOE0uhJF04="},
      {std::string(300, 'y'), "xKoBWsFnVJ2MVhWsxgnHCk8B+4w="},
  }));
  CAPTURE(key);
  CHECK(webSocketAccept(key) == accept);
}

}  // namespace
}  // namespace hoplite::policy
