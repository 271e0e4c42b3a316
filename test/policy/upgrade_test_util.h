// Helpers shared by the upgrade tables: the RFC 6455 §1.3 sample handshake and request heads
// written in a few words.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "policy/text.h"
#include "policy/upgrade.h"
#include "test/policy/policy_test_util.h"

namespace hoplite::policy::test {

constexpr const char* kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3
constexpr const char* kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// The RFC 6455 §1.3 handshake fields, without Host.
inline const std::string kWebSocket =
    "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
    "Sec-WebSocket-Version: 13";

// `body` is "none", "len:N" or "chunked".
inline parser::RequestHead requestHead(std::string_view version, std::string_view method,
                                       std::string_view body, std::string_view headers) {
  parser::RequestHead head;
  head.method = std::string(method);
  head.target = "/chat";
  head.versionMinor = version == "1.0" ? 0 : 1;
  head.headers = fields(headers);
  head.host = "server.example.com";
  if (body == "chunked") {
    head.framing = parser::Framing::Chunked;
  } else if (body.substr(0, 4) == "len:") {
    head.framing = parser::Framing::Length;
    head.contentLength = std::stoull(std::string(body.substr(4)));
  }
  return head;
}

// "websocket,foo" → upgrade.allow; "" allows nothing.
inline conf::UpgradeSettings allowing(std::string_view allow) {
  conf::UpgradeSettings settings;
  settings.allow.clear();
  for (std::string_view name : splitCommaList(allow)) settings.allow.emplace_back(name);
  return settings;
}

}  // namespace hoplite::policy::test
