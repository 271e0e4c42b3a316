// Base64 as RFC 6455 uses it (RFC 4648 §4), strict on decode.
#include "policy/base64.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoplite::policy {
namespace {

TEST_CASE("policy: base64 round-trips the RFC 4648 §10 vectors", "[policy][base64]") {
  auto [bytes, encoded] = GENERATE(table<std::string, std::string>({
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
      {std::string("\xff\xfe\x00\x01", 4), "//4AAQ=="},
  }));
  CAPTURE(bytes);
  CHECK(base64Encode(bytes) == encoded);
  const std::optional<std::string> decoded = base64Decode(encoded);
  REQUIRE(decoded);
  CHECK(*decoded == bytes);
}

TEST_CASE("policy: base64 decoding refuses anything non-canonical", "[policy][base64]") {
  auto encoded = GENERATE(as<std::string>{}, "Zg", "Zg=", "Z===", "====", "Zh==", "Zm9=", "Zm=v",
                          "Zg==Zg==", "Zm9v YmFy", "Zm9v\r\n", "Zm9v-_8=", "=Zm9");
  CAPTURE(encoded);
  CHECK_FALSE(base64Decode(encoded).has_value());
}

}  // namespace
}  // namespace hoplite::policy
