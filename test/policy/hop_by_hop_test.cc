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

TEST_CASE("policy: long Connection lists and tokens naming hop-by-hop fields",
          "[policy][hop_by_hop]") {
  auto [input, expected] = GENERATE(table<std::string, std::string>({
      // More tokens than the filter keeps inline, spread over two fields.
      {"Connection: t1, t2, t3, t4, t5, t6\nConnection: t7, T8, t9, t10\nT1: 1\nT9: 9\n"
       "t10: 10\nT11: 11\nT8: 8",
       "T11: 11"},
      // Tokens that name a field which is hop-by-hop anyway change nothing else.
      {"Connection: Upgrade, keep-alive, content-length, TE\nUpgrade: websocket\nX-A: 1", "X-A: 1"},
      {"Connection: upgrade\nHost: a\nSec-WebSocket-Key: k\nUpgrade: websocket",
       "Host: a\nSec-WebSocket-Key: k"},
      // OWS around tokens does not hide them.
      {"Connection: \tx-a ,x-b\t\nX-A: 1\nX-B: 2\nX-C: 3", "X-C: 3"},
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

TEST_CASE("policy: HopByHopFilter keeps exactly what stripHopByHop returns",
          "[policy][hop_by_hop]") {
  const std::string input = GENERATE(as<std::string>{}, "Host: a\nConnection: close\nX-A: 1",
                                     "Connection: x-a, host\nHost: a\nX-A: 1\nX-B: 2",
                                     "Connection: a,b,c,d,e,f,g,h,i\nI: 1\nH: 2\nJ: 3", "");
  CAPTURE(input);
  const parser::HeaderList headers = test::fields(input);
  const HopByHopFilter filter(headers);
  parser::HeaderList kept;
  for (const parser::HeaderField& field : headers) {
    if (filter.keeps(field)) kept.push_back(field);
  }
  CHECK(kept == stripHopByHop(headers));
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
