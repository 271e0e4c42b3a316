// Hop-by-hop stripping (RFC 9110 §7.6.1).
#include "policy/hop_by_hop.h"

#include <catch2/catch.hpp>
#include <string>

#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

TEST_CASE("policy: hop-by-hop fields and every field named in Connection are stripped",
          "[policy][hop_by_hop]") {
  // input fields, what is left (in order)
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"Host: a\nAccept: */*", "Host: a\nAccept: */*"},
      {"Host: a\nConnection: close\nAccept: */*", "Host: a\nAccept: */*"},
      {"Host: a\nKeep-Alive: timeout=5\nProxy-Connection: keep-alive", "Host: a"},
      {"TE: trailers\nTrailer: X-Sum\nTransfer-Encoding: chunked\nX-A: 1", "X-A: 1"},
      {"Upgrade: h2c\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\nX-A: 1", "X-A: 1"},
      {"Content-Length: 10\nX-A: 1", "X-A: 1"},
      {"connection: x-secret\nX-Secret: 1\nX-Public: 2", "X-Public: 2"},
      {"Connection: X-A, x-b\nX-A: 1\nX-B: 2\nX-C: 3", "X-C: 3"},
      {"Connection: x-a\nConnection: X-B\nX-B: 2\nX-A: 1\nX-C: 3", "X-C: 3"},
      {"Connection: Host\nHost: a\nX-A: 1", "Host: a\nX-A: 1"},
      {"Connection: Authorization\nAuthorization: Basic eA==\nX-A: 1", "X-A: 1"},
      {"Connection: , ,\nX-A: 1", "X-A: 1"},
      {"KEEP-ALIVE: 1\nupgrade: websocket\nte: gzip\nX-A: 1", "X-A: 1"},
      {"X-A: 1\nX-A: 2\nX-B: 3", "X-A: 1\nX-A: 2\nX-B: 3"},
      {"Sec-WebSocket-Key: k\nSec-WebSocket-Version: 13",
       "Sec-WebSocket-Key: k\nSec-WebSocket-Version: 13"},
      {"", ""},
  }));
  CAPTURE(input);
  CHECK(test::text(stripHopByHop(test::fields(input))) == expected);
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
