// Connection field parsing (RFC 9110 §7.6.1, list syntax §5.6.1).
#include "policy/connection_tokens.h"

#include <catch2/catch.hpp>
#include <string>

#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

std::string joined(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& token : tokens) {
    if (!out.empty()) out.push_back('|');
    out += token;
  }
  return out;
}

// input fields, expected tokens joined with '|'
void checkTokens(const std::string& input, const std::string& expected) {
  CAPTURE(input);
  CHECK(joined(connectionTokens(test::fields(input))) == expected);
}

TEST_CASE("policy: Connection tokens are lower-cased, trimmed, and empty elements skipped",
          "[policy][connection]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Connection: close", "close"},
      {"Connection: Keep-Alive", "keep-alive"},
      {"Connection: Upgrade, HTTP2-Settings", "upgrade|http2-settings"},
      {"Connection:    upgrade   ,\tFoo  ", "upgrade|foo"},
      {"connection: UPGRADE", "upgrade"},
      // RFC 9110 §5.6.1: empty list elements are ignored.
      {"Connection: , , a,,b ,", "a|b"},
      {"Connection: ", ""},
  }));
  checkTokens(input, expected);
}

TEST_CASE("policy: every Connection field adds its tokens, in order", "[policy][connection]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Connection: a\nConnection: b", "a|b"},
      {"Connection: a\nHost: x\nCONNECTION: B, c", "a|b|c"},
  }));
  checkTokens(input, expected);
}

TEST_CASE("policy: only fields named Connection carry connection options", "[policy][connection]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Host: example.com\nUpgrade: websocket", ""},
      {"", ""},
      {"Proxy-Connection: close", ""},
      {"X-Connection: close", ""},
  }));
  checkTokens(input, expected);
}

TEST_CASE("policy: hasConnectionToken matches one whole token in any case",
          "[policy][connection]") {
  auto [input, token, expected] = GENERATE(table<std::string, std::string, bool>({
      {"Connection: Upgrade", "upgrade", true},
      {"Connection: keep-alive, Upgrade", "upgrade", true},
      {"Connection: keep-alive\nConnection: upgrade", "upgrade", true},
      {"Connection: upgrades", "upgrade", false},
      {"Connection: x-upgrade", "upgrade", false},
      {"Connection: close", "Close", true},
      {"Upgrade: upgrade", "upgrade", false},
      {"", "close", false},
  }));
  CAPTURE(input, token);
  CHECK(hasConnectionToken(test::fields(input), token) == expected);
}

}  // namespace
}  // namespace hoplite::policy
