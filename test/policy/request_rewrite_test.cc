// The canonical request head sent upstream.
#include "policy/request_rewrite.h"

#include <catch2/catch.hpp>
#include <string>

#include "policy/text.h"
#include "test/policy/policy_test_util.h"

namespace hoplite::policy {
namespace {

// "GET /x HTTP/1.1" → method, target, version.
parser::RequestHead requestHead(std::string_view line, std::string_view host, std::string_view body,
                                std::string_view headers) {
  parser::RequestHead head;
  const size_t s1 = line.find(' ');
  const size_t s2 = line.rfind(' ');
  head.method = std::string(line.substr(0, s1));
  head.target = std::string(line.substr(s1 + 1, s2 - s1 - 1));
  head.versionMinor = line.substr(s2 + 1) == "HTTP/1.0" ? 0 : 1;
  head.host = std::string(host);
  head.headers = test::fields(headers);
  if (body == "chunked") {
    head.framing = parser::Framing::Chunked;
  } else if (body.substr(0, 4) == "len:") {
    head.framing = parser::Framing::Length;
    head.contentLength = std::stoull(std::string(body.substr(4)));
  }
  return head;
}

// Every table below has these columns: request line, effective host, body, fields, forwarding
// switches, expected head, expected body framing.
using Row = std::tuple<std::string, std::string, std::string, std::string, std::string, std::string,
                       std::string>;

void checkUpstreamRequest(const Row& row) {
  const auto& [line, host, body, headers, switches, expected, framing] = row;
  CAPTURE(line, host, body, headers, switches);
  const parser::RequestHead request = requestHead(line, host, body, headers);
  const UpgradeRequest upgrade = classifyUpgradeRequest(request, conf::UpgradeSettings{});
  REQUIRE(upgrade.kind != UpgradeRequest::Kind::Invalid);

  PeerInfo peer;
  peer.address = *conf::IpAddress::fromText("203.0.113.7");
  peer.port = 50000;
  peer.listenerPort = 8080;
  conf::ForwardedSettings forwarded;
  forwarded.xForwarded = switches.find("xff") != std::string::npos;
  forwarded.forwarded = switches.find("fwd") != std::string::npos;
  forwarded.via = switches.find("via") != std::string::npos;

  // "rid" in the switches: request_id on, with the ID the proxy chose.
  const bool withId = switches.find("rid") != std::string::npos;
  const UpstreamRequest out =
      buildUpstreamRequest(request, upgrade, peer, forwarded, withId ? "X-Request-Id" : "", "r-1");
  CHECK(out.head == test::crlf(expected));
  CHECK(test::framingName(out.bodyFraming) == framing);
  CHECK(out.contentLength ==
        (request.framing == parser::Framing::Length ? request.contentLength : 0));
}

TEST_CASE("policy: the request line is origin-form HTTP/1.1 and Host comes first",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      {"GET / HTTP/1.1", "example.com", "none", "Accept: a\nHost: example.com\nUser-Agent: u", "",
       "GET / HTTP/1.1\nHost: example.com\nAccept: a\nUser-Agent: u\n\n", "none"},
      // An absolute-form authority is the effective host; the Host field is not copied.
      {"GET /p?q=1 HTTP/1.1", "other.example:8080", "none", "Host: ignored.example", "",
       "GET /p?q=1 HTTP/1.1\nHost: other.example:8080\n\n", "none"},
      // HTTP/1.0 is forwarded as HTTP/1.1; without a Host the field is empty (RFC 9112 §3.2).
      {"GET / HTTP/1.0", "", "none", "Accept: a", "", "GET / HTTP/1.1\nHost: \nAccept: a\n\n",
       "none"},
      {"OPTIONS * HTTP/1.1", "h", "none", "Host: h", "", "OPTIONS * HTTP/1.1\nHost: h\n\n", "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: the body's framing fields are recomputed and written last",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      // Content-Length...
      {"POST /upload HTTP/1.1", "h", "len:5", "Host: h\nContent-Length: 5\nContent-Type: a", "",
       "POST /upload HTTP/1.1\nHost: h\nContent-Type: a\nContent-Length: 5\n\n", "length"},
      // ...chunked...
      {"POST /upload HTTP/1.1", "h", "chunked",
       "Host: h\nTransfer-Encoding: chunked\nTrailer: X-Sum", "",
       "POST /upload HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n", "chunked"},
      // ...and an explicit zero for a body-less POST/PUT/PATCH (RFC 9110 §8.6).
      {"POST /form HTTP/1.1", "h", "none", "Host: h", "",
       "POST /form HTTP/1.1\nHost: h\nContent-Length: 0\n\n", "none"},
      {"PATCH /r HTTP/1.1", "h", "len:0", "Host: h\nContent-Length: 0", "",
       "PATCH /r HTTP/1.1\nHost: h\nContent-Length: 0\n\n", "length"},
      {"DELETE /r HTTP/1.1", "h", "none", "Host: h", "", "DELETE /r HTTP/1.1\nHost: h\n\n", "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: hop-by-hop fields go and no Connection field is sent",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      // Keep-alive is the default upstream, so the client's Connection is not needed.
      {"GET / HTTP/1.1", "h", "none",
       "Host: h\nConnection: keep-alive, X-Drop\nKeep-Alive: 5\nX-Drop: 1\nTE: trailers\n"
       "Proxy-Connection: close\nX-Keep: 2",
       "", "GET / HTTP/1.1\nHost: h\nX-Keep: 2\n\n", "none"},
      // The client's close concerns its own connection, not the upstream one.
      {"GET / HTTP/1.1", "h", "none", "Host: h\nConnection: close\nX-Keep: 2", "",
       "GET / HTTP/1.1\nHost: h\nX-Keep: 2\n\n", "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: Connection cannot remove Host, the framing or the proxy's own fields",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      // Host appears once.
      {"GET / HTTP/1.1", "h", "none", "Connection: Host\nHost: h", "",
       "GET / HTTP/1.1\nHost: h\n\n", "none"},
      // The framing is recomputed after stripping.
      {"POST / HTTP/1.1", "h", "len:2", "Host: h\nConnection: Content-Length\nContent-Length: 2",
       "", "POST / HTTP/1.1\nHost: h\nContent-Length: 2\n\n", "length"},
      // The forwarding fields are added after stripping.
      {"GET / HTTP/1.1", "h", "none",
       "Host: h\nConnection: X-Forwarded-For, Via\nX-Forwarded-For: 1.2.3.4", "xff,via",
       "GET / HTTP/1.1\nHost: h\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
       "X-Forwarded-Port: 8080\nX-Forwarded-Host: h\nVia: 1.1 hoplite\n\n",
       "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: header names with an underscore are not sent upstream",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      {"GET / HTTP/1.1", "h", "none", "Host: h\nX_Real_IP: 1.2.3.4\nX-Ok: 1", "",
       "GET / HTTP/1.1\nHost: h\nX-Ok: 1\n\n", "none"},
      {"GET / HTTP/1.1", "h", "none", "Host: h\nX_Forwarded_For: 1.2.3.4", "xff",
       "GET / HTTP/1.1\nHost: h\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
       "X-Forwarded-Port: 8080\nX-Forwarded-Host: h\n\n",
       "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE(
    "policy: a granted upgrade forwards Connection: upgrade and the allowed Upgrade value last",
    "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      // A granted WebSocket upgrade; Sec-WebSocket-* pass in order.
      {"GET /chat HTTP/1.1", "h", "none",
       "Host: h\nConnection: Upgrade\nUpgrade: websocket\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n"
       "Sec-WebSocket-Protocol: chat",
       "",
       "GET /chat HTTP/1.1\nHost: h\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
       "Sec-WebSocket-Version: 13\nSec-WebSocket-Protocol: chat\nConnection: upgrade\n"
       "Upgrade: websocket\n\n",
       "none"},
      // Only the allowed protocols of the offer are forwarded.
      {"GET /chat HTTP/1.1", "h", "none",
       "Host: h\nConnection: Upgrade\nUpgrade: websocket, foo/1\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13",
       "",
       "GET /chat HTTP/1.1\nHost: h\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
       "Sec-WebSocket-Version: 13\nConnection: upgrade\nUpgrade: websocket\n\n",
       "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: a refused or ignored upgrade is sent as plain HTTP",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      // A refused h2c upgrade: Upgrade and HTTP2-Settings are gone.
      {"GET / HTTP/1.1", "h", "none",
       "Host: h\nConnection: Upgrade, HTTP2-Settings\nUpgrade: h2c\n"
       "HTTP2-Settings: AAMAAABkAAQ",
       "", "GET / HTTP/1.1\nHost: h\n\n", "none"},
      // An HTTP/1.0 upgrade is ignored and stripped.
      {"GET /chat HTTP/1.0", "h", "none",
       "Host: h\nConnection: Upgrade\nUpgrade: websocket\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13",
       "",
       "GET /chat HTTP/1.1\nHost: h\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
       "Sec-WebSocket-Version: 13\n\n",
       "none"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: the forwarding section follows the client's fields, before the framing",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      {"GET /x HTTP/1.1", "example.com", "none", "Accept: */*\nHost: example.com", "xff",
       "GET /x HTTP/1.1\nHost: example.com\nAccept: */*\nX-Forwarded-For: 203.0.113.7\n"
       "X-Forwarded-Proto: http\nX-Forwarded-Port: 8080\nX-Forwarded-Host: example.com\n\n",
       "none"},
      // Every forwarding switch on, with a client that tries to forge its address.
      {"PUT /r HTTP/1.1", "h:81", "len:2",
       "Host: h:81\nX-Forwarded-For: 127.0.0.1\nContent-Length: 2\nVia: 1.0 c", "xff,fwd,via",
       "PUT /r HTTP/1.1\nHost: h:81\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: http\n"
       "X-Forwarded-Port: 8080\nX-Forwarded-Host: h:81\n"
       "Forwarded: for=203.0.113.7;proto=http;host=\"h:81\"\nVia: 1.0 c, 1.1 hoplite\n"
       "Content-Length: 2\n\n",
       "length"},
  }));
  checkUpstreamRequest(row);
}

TEST_CASE("policy: the request ID replaces every incoming one, after the forwarding section",
          "[policy][request_rewrite]") {
  const Row row = GENERATE(table<std::string, std::string, std::string, std::string, std::string,
                                 std::string, std::string>({
      {"GET /x HTTP/1.1", "h", "none",
       "Host: h\nx-request-id: forged\nAccept: */*\nX-Request-Id: again", "xff,rid",
       "GET /x HTTP/1.1\nHost: h\nAccept: */*\nX-Forwarded-For: 203.0.113.7\n"
       "X-Forwarded-Proto: http\nX-Forwarded-Port: 8080\nX-Forwarded-Host: h\n"
       "X-Request-Id: r-1\n\n",
       "none"},
      {"POST /p HTTP/1.1", "h", "len:3", "Host: h", "rid",
       "POST /p HTTP/1.1\nHost: h\nX-Request-Id: r-1\nContent-Length: 3\n\n", "length"},
      // request_id "off": an incoming ID is an ordinary end-to-end field.
      {"GET /x HTTP/1.1", "h", "none", "Host: h\nX-Request-Id: theirs", "",
       "GET /x HTTP/1.1\nHost: h\nX-Request-Id: theirs\n\n", "none"},
  }));
  checkUpstreamRequest(row);
}

}  // namespace
}  // namespace hoplite::policy
