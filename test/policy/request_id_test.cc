// Request IDs: the format of a fresh one, and when an incoming one is kept.
#include "policy/request_id.h"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>

#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

TEST_CASE("policy: a fresh request ID is the 128 bits as 32 lower-case hex digits",
          "[policy][request_id]") {
  std::array<uint8_t, 16> bits{};
  RequestId id;
  CHECK(id.empty());
  id.assignFresh(bits);
  CHECK(id.view() == "00000000000000000000000000000000");
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint8_t>(0x10 * i + 0x0f - i);
  id.assignFresh(bits);
  CHECK(id.view() == "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  // A kept ID replaces it whole; clear() empties it.
  id.assign("abc");
  CHECK(id.view() == "abc");
  id.clear();
  CHECK(id.empty());
}

TEST_CASE("policy: an incoming request ID is kept only from a trusted peer, alone and well-formed",
          "[policy][request_id]") {
  // trusted peer, incoming fields, the ID kept ("-" for none: a fresh one is set).
  using Row = std::tuple<bool, std::string, std::string>;
  auto [trusted, incoming, kept] = GENERATE(table<bool, std::string, std::string>({
      Row{true, "X-Request-Id: abc-123", "abc-123"},
      Row{true, "x-request-id: abc-123", "abc-123"},  // names compare case-insensitively
      Row{true, "Accept: */*\nX-Request-Id: 7f3a/9:x=1+y", "7f3a/9:x=1+y"},
      Row{false, "X-Request-Id: abc-123", "-"},  // a client cannot choose its ID
      Row{true, "", "-"}, Row{true, "X-Request-Id: a\nX-Request-Id: b", "-"},  // two IDs: neither
      Row{true, "X-Request-Id:", "-"},                                         // empty
      Row{true, "X-Request-Id: two words", "-"}, Row{true, "X-Request-Id: a,b", "-"},
      Row{true, "X-Request-Id: a;b", "-"}, Row{true, "X-Request-Id: \"quoted\"", "-"},
      Row{true, "X-Request-Id: back\\slash", "-"},
      Row{true, "X-Request-Id: caf\xc3\xa9", "-"},  // not ASCII
      Row{true, "X-Request-Id: " + std::string(kMaxRequestIdBytes, 'a'),
          std::string(kMaxRequestIdBytes, 'a')},
      Row{true, "X-Request-Id: " + std::string(kMaxRequestIdBytes + 1, 'a'), "-"},
      Row{true, "X-Trace: abc", "-"},  // another field
  }));
  CAPTURE(trusted, incoming);
  const parser::HeaderList headers = test::fields(incoming);
  const std::optional<std::string_view> result = keptRequestId(headers, "X-Request-Id", trusted);
  CHECK(std::string(result.value_or("-")) == kept);
}

TEST_CASE("policy: the request ID field is whatever name the config gives",
          "[policy][request_id]") {
  const parser::HeaderList headers = test::fields("X-Request-Id: one\nX-Correlation-Id: two");
  CHECK(keptRequestId(headers, "X-Correlation-Id", true) == std::optional<std::string_view>("two"));
  CHECK(keptRequestId(headers, "Request-Id", true) == std::nullopt);
}

}  // namespace
}  // namespace hoplite::policy
