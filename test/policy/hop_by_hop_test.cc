// Hop-by-hop stripping (RFC 9110 §7.6.1).
#include "policy/hop_by_hop.h"

#include <catch2/catch.hpp>
#include <string>

#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

// input fields, what is left (in order)
void checkStripped(const std::string& input, const std::string& expected) {
  CAPTURE(input);
  CHECK(test::text(stripHopByHop(test::fields(input))) == expected);
}

TEST_CASE("policy: the fixed hop-by-hop fields are stripped in any case", "[policy][hop_by_hop]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Host: a\nConnection: close\nAccept: */*", "Host: a\nAccept: */*"},
      {"Host: a\nKeep-Alive: timeout=5\nProxy-Connection: keep-alive", "Host: a"},
      // Bodies are re-framed, so the framing fields go too.
      {"TE: trailers\nTrailer: X-Sum\nTransfer-Encoding: chunked\nX-A: 1", "X-A: 1"},
      {"Content-Length: 10\nX-A: 1", "X-A: 1"},
      // Upgrade goes unless granted; the proxy adds it back then.
      {"Upgrade: h2c\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\nX-A: 1", "X-A: 1"},
      {"KEEP-ALIVE: 1\nupgrade: websocket\nte: gzip\nX-A: 1", "X-A: 1"},
  }));
  checkStripped(input, expected);
}

TEST_CASE("policy: every field named in any Connection field is stripped", "[policy][hop_by_hop]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"connection: x-secret\nX-Secret: 1\nX-Public: 2", "X-Public: 2"},
      {"Connection: X-A, x-b\nX-A: 1\nX-B: 2\nX-C: 3", "X-C: 3"},
      {"Connection: x-a\nConnection: X-B\nX-B: 2\nX-A: 1\nX-C: 3", "X-C: 3"},
      {"Connection: Authorization\nAuthorization: Basic eA==\nX-A: 1", "X-A: 1"},
      {"Connection: , ,\nX-A: 1", "X-A: 1"},
  }));
  checkStripped(input, expected);
}

TEST_CASE("policy: Connection cannot strip Host", "[policy][hop_by_hop]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Connection: Host\nHost: a\nX-A: 1", "Host: a\nX-A: 1"},
      {"Connection: x-a, host\nHost: a\nX-A: 1\nX-B: 2", "Host: a\nX-B: 2"},
  }));
  checkStripped(input, expected);
}

TEST_CASE("policy: end-to-end fields pass untouched, in order", "[policy][hop_by_hop]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Host: a\nAccept: */*", "Host: a\nAccept: */*"},
      {"X-A: 1\nX-A: 2\nX-B: 3", "X-A: 1\nX-A: 2\nX-B: 3"},
      {"Sec-WebSocket-Key: k\nSec-WebSocket-Version: 13",
       "Sec-WebSocket-Key: k\nSec-WebSocket-Version: 13"},
      {"", ""},
  }));
  checkStripped(input, expected);
}

TEST_CASE("policy: isHopByHopName knows the fixed list in any case", "[policy][hop_by_hop]") {
  auto [name, expected] = GENERATE(table<std::string, bool>({
      {"Connection", true},
      {"keep-alive", true},
      {"PROXY-CONNECTION", true},
      {"Te", true},
      {"Trailer", true},
      {"Transfer-Encoding", true},
      {"Upgrade", true},
      {"http2-settings", true},
      {"Content-Length", true},
      {"Host", false},
      {"Trailers", false},
      {"X-Connection", false},
      {"Sec-WebSocket-Key", false},
  }));
  CAPTURE(name);
  CHECK(isHopByHopName(name) == expected);
}

}  // namespace
}  // namespace hoplite::policy
