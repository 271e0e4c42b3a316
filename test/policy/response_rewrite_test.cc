// The canonical response head sent to the client, its framing and keep-alive decisions, and the
// responses hoplite generates itself.
#include "policy/response_rewrite.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

// The route's upgrade.allow in every table: the default one.
const std::vector<std::string> kAllowWebSocket = {"websocket"};

// "GET 1.1 ka" plus any of "force", "upgraded", "via"; "close" instead of "ka" for a client that
// did not allow keep-alive. upgrade.allow is ["websocket"].
ResponseContext contextFrom(const std::string& words) {
  ResponseContext context;
  context.upgradeAllow = kAllowWebSocket;
  context.requestMethod = std::string_view(words).substr(0, words.find(' '));
  context.clientVersionMinor = words.find(" 1.0 ") != std::string::npos ? 0 : 1;
  context.clientKeepAlive = words.find(" close") == std::string::npos;
  context.forceClose = words.find("force") != std::string::npos;
  context.upgradeAccepted = words.find("upgraded") != std::string::npos;
  context.via = words.find("via") != std::string::npos;
  if (words.find("rid") != std::string::npos) {
    context.requestIdName = "X-Request-Id";
    context.requestId = "r-1";
  }
  return context;
}

// Every table below has these columns: context (as for contextFrom), status, reason, upstream
// body, upstream fields, expected head, expected framing toward the client, closeAfter.
using Row = std::tuple<std::string, int, std::string, std::string, std::string, std::string,
                       std::string, bool>;

void checkClientResponse(const Row& row) {
  const auto& [context, status, reason, body, headers, expected, framing, closeAfter] = row;
  CAPTURE(context, status, reason, body, headers);
  parser::ResponseHead response;
  response.status = static_cast<uint16_t>(status);
  response.reason = reason;
  response.headers = test::fields(headers);
  if (body == "chunked") {
    response.framing = parser::Framing::Chunked;
  } else if (body == "close") {
    response.framing = parser::Framing::UntilClose;
  } else if (body.substr(0, 4) == "len:") {
    response.framing = parser::Framing::Length;
    response.contentLength = std::stoull(body.substr(4));
  }
  const ClientResponse out = buildClientResponse(response, contextFrom(context));
  CHECK(out.head == test::crlf(expected));
  CHECK(test::framingName(out.bodyFraming) == framing);
  CHECK(out.closeAfter == closeAfter);
  if (out.bodyFraming == parser::Framing::Length)
    CHECK(out.contentLength == response.contentLength);
}

TEST_CASE(
    "policy: an HTTP/1.1 client gets Content-Length or chunked framing, never close-delimited",
    "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // Content-Length is kept, written after the other fields.
      {"GET 1.1 ka", 200, "OK", "len:5", "Content-Length: 5\nContent-Type: text/plain",
       "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 5\n\n", "length", false},
      // Chunked stays chunked for an HTTP/1.1 client...
      {"GET 1.1 ka", 200, "OK", "chunked", "Transfer-Encoding: chunked\nContent-Type: a",
       "HTTP/1.1 200 OK\nContent-Type: a\nTransfer-Encoding: chunked\n\n", "chunked", false},
      // ...and a close-delimited body is re-chunked, so the client connection survives.
      {"GET 1.1 ka", 200, "OK", "close", "Content-Type: a",
       "HTTP/1.1 200 OK\nContent-Type: a\nTransfer-Encoding: chunked\n\n", "chunked", false},
      // A status that may have content but has none says Content-Length: 0.
      {"GET 1.1 ka", 200, "OK", "none", "", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "none",
       false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: an HTTP/1.0 client cannot read chunked, so it gets a close-delimited body",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      {"GET 1.0 ka", 200, "OK", "chunked", "Transfer-Encoding: chunked\nContent-Type: a",
       "HTTP/1.1 200 OK\nContent-Type: a\nConnection: close\n\n", "close", true},
      {"GET 1.0 ka", 200, "OK", "close", "", "HTTP/1.1 200 OK\nConnection: close\n\n", "close",
       true},
  }));
  checkClientResponse(row);
}

TEST_CASE(
    "policy: keep-alive toward the client follows the client and the proxy, never the upstream",
    "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // A keep-alive HTTP/1.0 client is told the connection persists (RFC 9112 §9.3).
      {"GET 1.0 ka", 200, "OK", "len:5", "Content-Length: 5",
       "HTTP/1.1 200 OK\nContent-Length: 5\nConnection: keep-alive\n\n", "length", false},
      {"GET 1.0 close", 200, "OK", "len:5", "Content-Length: 5",
       "HTTP/1.1 200 OK\nContent-Length: 5\nConnection: close\n\n", "length", true},
      // A client that said Connection: close, or a proxy that is draining, gets close.
      {"GET 1.1 close", 200, "OK", "len:0", "Content-Length: 0",
       "HTTP/1.1 200 OK\nContent-Length: 0\nConnection: close\n\n", "length", true},
      {"GET 1.1 ka force", 200, "OK", "chunked", "Transfer-Encoding: chunked",
       "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nConnection: close\n\n", "chunked", true},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: the upstream's hop-by-hop fields never reach the client",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // Its close is not ours.
      {"GET 1.1 ka", 200, "OK", "len:2",
       "Connection: close, X-Internal\nX-Internal: 1\nKeep-Alive: timeout=5\n"
       "Content-Length: 2\nX-Public: 2",
       "HTTP/1.1 200 OK\nX-Public: 2\nContent-Length: 2\n\n", "length", false},
      // Upgrade is dropped from anything but an accepted 101.
      {"GET 1.1 ka", 200, "OK", "chunked",
       "Proxy-Connection: keep-alive\nTrailer: X-Sum\nUpgrade: h2c\nTransfer-Encoding: chunked\n"
       "X-A: 1",
       "HTTP/1.1 200 OK\nX-A: 1\nTransfer-Encoding: chunked\n\n", "chunked", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: HEAD, 204 and 304 responses have no body", "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // A HEAD response keeps the representation's Content-Length but has no body.
      {"HEAD 1.1 ka", 200, "OK", "none", "Content-Length: 1234\nETag: \"x\"",
       "HTTP/1.1 200 OK\nETag: \"x\"\nContent-Length: 1234\n\n", "none", false},
      {"HEAD 1.1 ka", 200, "OK", "none", "Transfer-Encoding: chunked", "HTTP/1.1 200 OK\n\n",
       "none", false},
      // 204 never carries Content-Length (RFC 9110 §8.6); 304 keeps it.
      {"GET 1.1 ka", 204, "No Content", "none", "Content-Length: 0\nX-A: 1",
       "HTTP/1.1 204 No Content\nX-A: 1\n\n", "none", false},
      {"GET 1.1 ka", 304, "Not Modified", "none", "ETag: \"v2\"\nContent-Length: 99",
       "HTTP/1.1 304 Not Modified\nETag: \"v2\"\nContent-Length: 99\n\n", "none", false},
  }));
  checkClientResponse(row);
}

TEST_CASE(
    "policy: interim 1xx responses go to HTTP/1.1 clients only, without framing or Connection",
    "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      {"POST 1.1 ka", 100, "Continue", "none", "", "HTTP/1.1 100 Continue\n\n", "none", false},
      {"POST 1.0 ka", 100, "Continue", "none", "", "", "none", false},
      {"GET 1.1 ka", 103, "Early Hints", "none", "Link: </s.css>; rel=preload",
       "HTTP/1.1 103 Early Hints\nLink: </s.css>; rel=preload\n\n", "none", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: only an accepted 101 reaches the client, with Connection: upgrade and Upgrade",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // An accepted 101 keeps Upgrade and Connection: upgrade; Sec-WebSocket-* pass.
      {"GET 1.1 ka upgraded", 101, "Switching Protocols", "none",
       "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: abc=\n"
       "Sec-WebSocket-Protocol: chat",
       "HTTP/1.1 101 Switching Protocols\nSec-WebSocket-Accept: abc=\n"
       "Sec-WebSocket-Protocol: chat\nConnection: upgrade\nUpgrade: websocket\n\n",
       "none", false},
      // A 101 that was not accepted never reaches the client (the engine answers 502).
      {"GET 1.1 ka", 101, "Switching Protocols", "none", "Upgrade: websocket\nConnection: Upgrade",
       "", "none", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: a 426 names the protocols this hop upgrades to, with Connection: upgrade",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // RFC 9110 §15.5.22: a 426 carries Upgrade; hoplite keeps the allowed elements...
      {"GET 1.1 ka", 426, "Upgrade Required", "len:0",
       "Upgrade: WebSocket, h2c\nConnection: Upgrade\nSec-WebSocket-Version: 13\nContent-Length: 0",
       "HTTP/1.1 426 Upgrade Required\nSec-WebSocket-Version: 13\nContent-Length: 0\n"
       "Connection: upgrade\nUpgrade: WebSocket\n\n",
       "length", false},
      // ...across several fields, versions included, and next to a close...
      {"GET 1.1 close", 426, "Upgrade Required", "len:0",
       "Upgrade: foo/2\nUpgrade: websocket/13\nConnection: upgrade\nContent-Length: 0",
       "HTTP/1.1 426 Upgrade Required\nContent-Length: 0\nConnection: upgrade, close\n"
       "Upgrade: websocket/13\n\n",
       "length", true},
      // ...says nothing of protocols it would refuse...
      {"GET 1.1 ka", 426, "Upgrade Required", "len:0",
       "Upgrade: h2c\nConnection: Upgrade\nContent-Length: 0",
       "HTTP/1.1 426 Upgrade Required\nContent-Length: 0\n\n", "length", false},
      // ...nor to an HTTP/1.0 client, which cannot upgrade.
      {"GET 1.0 ka", 426, "Upgrade Required", "len:0",
       "Upgrade: websocket\nConnection: Upgrade\nContent-Length: 0",
       "HTTP/1.1 426 Upgrade Required\nContent-Length: 0\nConnection: keep-alive\n\n", "length",
       false},
      // Another final status with Upgrade still loses it.
      {"GET 1.1 ka", 400, "Bad Request", "len:0",
       "Upgrade: websocket\nConnection: Upgrade\nContent-Length: 0",
       "HTTP/1.1 400 Bad Request\nContent-Length: 0\n\n", "length", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: the upstream's reason is kept when it is plain text, else the standard phrase",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      {"GET 1.1 ka", 200, "Fine Thanks", "len:0", "Content-Length: 0",
       "HTTP/1.1 200 Fine Thanks\nContent-Length: 0\n\n", "length", false},
      {"GET 1.1 ka", 404, "", "len:0", "", "HTTP/1.1 404 Not Found\nContent-Length: 0\n\n",
       "length", false},
      {"GET 1.1 ka", 502, "Bad\x01Gateway", "len:0", "",
       "HTTP/1.1 502 Bad Gateway\nContent-Length: 0\n\n", "length", false},
      {"GET 1.1 ka", 299, "", "len:0", "", "HTTP/1.1 299 Unknown\nContent-Length: 0\n\n", "length",
       false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: repeated fields keep their order and are never merged",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // Set-Cookie must never be merged.
      {"GET 1.1 ka", 200, "OK", "len:0", "Set-Cookie: a=1\nSet-Cookie: b=2",
       "HTTP/1.1 200 OK\nSet-Cookie: a=1\nSet-Cookie: b=2\nContent-Length: 0\n\n", "length", false},
      {"GET 1.1 ka", 200, "OK", "len:0", "X-A: 1\nX-B: 2\nX-A: 3",
       "HTTP/1.1 200 OK\nX-A: 1\nX-B: 2\nX-A: 3\nContent-Length: 0\n\n", "length", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: Via is appended to the upstream's, or set, only when enabled",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      {"GET 1.1 ka via", 200, "OK", "len:0", "Via: 1.1 backend\nX-A: 1",
       "HTTP/1.1 200 OK\nX-A: 1\nVia: 1.1 backend, 1.1 hoplite\nContent-Length: 0\n\n", "length",
       false},
      {"GET 1.1 ka via", 200, "OK", "len:0", "",
       "HTTP/1.1 200 OK\nVia: 1.1 hoplite\nContent-Length: 0\n\n", "length", false},
      // With via off the upstream's Via passes untouched, in place.
      {"GET 1.1 ka", 200, "OK", "len:0", "Via: 1.1 backend\nX-A: 1",
       "HTTP/1.1 200 OK\nVia: 1.1 backend\nX-A: 1\nContent-Length: 0\n\n", "length", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: the request ID goes back to the client on final responses and a 101",
          "[policy][response_rewrite]") {
  const Row row = GENERATE(table<std::string, int, std::string, std::string, std::string,
                                 std::string, std::string, bool>({
      // The upstream's own ID field (an echo, or another value) gives way to the request's.
      {"GET 1.1 ka rid", 200, "OK", "len:0", "X-A: 1\nx-request-id: backend-own",
       "HTTP/1.1 200 OK\nX-A: 1\nX-Request-Id: r-1\nContent-Length: 0\n\n", "length", false},
      {"GET 1.1 ka via rid", 404, "Not Found", "len:0", "",
       "HTTP/1.1 404 Not Found\nVia: 1.1 hoplite\nX-Request-Id: r-1\nContent-Length: 0\n\n",
       "length", false},
      {"GET 1.1 ka upgraded rid", 101, "Switching Protocols", "none", "Upgrade: websocket",
       "HTTP/1.1 101 Switching Protocols\nX-Request-Id: r-1\nConnection: upgrade\n"
       "Upgrade: websocket\n\n",
       "none", false},
      // An interim 100 does not carry it; the final response will.
      {"GET 1.1 ka rid", 100, "Continue", "none", "", "HTTP/1.1 100 Continue\n\n", "none", false},
      // request_id "off": the upstream's field passes as any end-to-end field.
      {"GET 1.1 ka", 200, "OK", "len:0", "X-Request-Id: backend-own",
       "HTTP/1.1 200 OK\nX-Request-Id: backend-own\nContent-Length: 0\n\n", "length", false},
  }));
  checkClientResponse(row);
}

TEST_CASE("policy: hoplite's own error responses are complete and close",
          "[policy][response_rewrite]") {
  auto [status, detail, expected] = GENERATE(table<int, std::string, std::string>({
      {502, "upstream refused the connection",
       "HTTP/1.1 502 Bad Gateway\nContent-Type: text/plain\nContent-Length: 49\n"
       "Connection: close\n\n502 Bad Gateway: upstream refused the connection\n"},
      {404, "",
       "HTTP/1.1 404 Not Found\nContent-Type: text/plain\nContent-Length: 14\n"
       "Connection: close\n\n404 Not Found\n"},
      // Control characters in the detail cannot break the message.
      {400, "bad\r\nX-Injected: 1",
       "HTTP/1.1 400 Bad Request\nContent-Type: text/plain\nContent-Length: 36\n"
       "Connection: close\n\n400 Bad Request: bad  X-Injected: 1\n"},
      {431, "too many header fields",
       "HTTP/1.1 431 Request Header Fields Too Large\nContent-Type: text/plain\n"
       "Content-Length: 60\nConnection: close\n\n"
       "431 Request Header Fields Too Large: too many header fields\n"},
  }));
  CAPTURE(status, detail);
  // Only the head's line ends are CRLF; the body's final newline is a bare LF.
  const size_t split = expected.find("\n\n") + 2;
  CHECK(buildErrorResponse(static_cast<uint16_t>(status), detail) ==
        test::crlf(expected.substr(0, split)) + expected.substr(split));
}

TEST_CASE("policy: extra fields go before Connection, and an Upgrade adds the upgrade option",
          "[policy][response_rewrite]") {
  const std::string body = "426 Upgrade Required: version 8\n";
  const std::string head =
      "HTTP/1.1 426 Upgrade Required\nContent-Type: text/plain\nContent-Length: 32\n";
  SECTION("Upgrade and Sec-WebSocket-Version: Connection lists upgrade, then close") {
    const ExtraField fields[] = {{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}};
    CHECK(buildErrorResponse(426, "version 8", fields) ==
          test::crlf(head + "Upgrade: websocket\nSec-WebSocket-Version: 13\n"
                            "Connection: upgrade, close\n\n") +
              body);
  }
  SECTION("a field that is not Upgrade leaves Connection at close") {
    const ExtraField fields[] = {{"Retry-After", "5"}};
    CHECK(buildErrorResponse(426, "version 8", fields) ==
          test::crlf(head + "Retry-After: 5\nConnection: close\n\n") + body);
  }
}

TEST_CASE("policy: reason phrases are the standard ones", "[policy][response_rewrite]") {
  auto [status, phrase] = GENERATE(table<int, std::string>({
      {100, "Continue"},
      {101, "Switching Protocols"},
      {200, "OK"},
      {204, "No Content"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {413, "Content Too Large"},
      {426, "Upgrade Required"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
      {299, "Unknown"},
      {0, "Unknown"},
  }));
  CAPTURE(status);
  CHECK(reasonPhrase(static_cast<uint16_t>(status)) == phrase);
}

}  // namespace
}  // namespace hoplite::policy
