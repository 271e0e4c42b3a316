// HeaderId classification, and the character tables behind isToken and equalsIgnoreCase.
#include "parser/header_id.h"

#include <catch2/catch.hpp>
#include <string>

#include "parser/http_message.h"
#include "parser/message_parser.h"

namespace hoplite::parser {
namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(kLowerAscii[static_cast<unsigned char>(c)]);
  return out;
}

TEST_CASE("parser: every known name has its id, in any case", "[parser][header_id]") {
  auto [name, id] = GENERATE(table<std::string, HeaderId>({
      {"Host", HeaderId::Host},
      {"Connection", HeaderId::Connection},
      {"Keep-Alive", HeaderId::KeepAlive},
      {"Proxy-Connection", HeaderId::ProxyConnection},
      {"TE", HeaderId::TE},
      {"Trailer", HeaderId::Trailer},
      {"Transfer-Encoding", HeaderId::TransferEncoding},
      {"Upgrade", HeaderId::Upgrade},
      {"HTTP2-Settings", HeaderId::Http2Settings},
      {"Content-Length", HeaderId::ContentLength},
      {"Expect", HeaderId::Expect},
      {"Via", HeaderId::Via},
      {"Forwarded", HeaderId::Forwarded},
      {"X-Forwarded-For", HeaderId::XForwardedFor},
      {"X-Forwarded-Proto", HeaderId::XForwardedProto},
      {"X-Forwarded-Port", HeaderId::XForwardedPort},
      {"X-Forwarded-Host", HeaderId::XForwardedHost},
      {"Sec-WebSocket-Key", HeaderId::SecWebSocketKey},
      {"Sec-WebSocket-Version", HeaderId::SecWebSocketVersion},
      {"Sec-WebSocket-Accept", HeaderId::SecWebSocketAccept},
      {"Sec-WebSocket-Protocol", HeaderId::SecWebSocketProtocol},
      {"Sec-WebSocket-Extensions", HeaderId::SecWebSocketExtensions},
      {"Proxy-Authenticate", HeaderId::ProxyAuthenticate},
      {"Proxy-Authorization", HeaderId::ProxyAuthorization},
  }));
  CAPTURE(name);
  CHECK(classifyHeaderName(name) == id);
  CHECK(classifyHeaderName(lower(name)) == id);
  CHECK(classifyHeaderName(upper(name)) == id);
  CHECK(headerIdName(id) == name);
  // A constructed field carries the id of its name, and assign() keeps the two in step.
  HeaderField field(name, "v");
  CHECK(field.id == id);
  field.assign("X-Other", "v");
  CHECK(field.id == HeaderId::Other);
  field.assign(upper(name), "w");
  CHECK(field.id == id);
}

TEST_CASE("parser: near misses of known names are Other", "[parser][header_id]") {
  auto [name, id] = GENERATE(table<std::string, HeaderId>({
      {"", HeaderId::Other},
      {"Hos", HeaderId::Other},
      {"Hosts", HeaderId::Other},
      {"Host ", HeaderId::Other},
      {"Hóst", HeaderId::Other},
      {"Connectio", HeaderId::Other},
      {"Connection2", HeaderId::Other},
      {"Keep_Alive", HeaderId::Other},
      {"Trailers", HeaderId::Other},
      {"Content-Type", HeaderId::Other},
      {"Content_Length", HeaderId::Other},
      {"Transfer-Encodinh", HeaderId::Other},
      {"X-Connection", HeaderId::Other},
      {"X_Forwarded_For", HeaderId::Other},
      {"X-Forwarded", HeaderId::Other},
      {"Forwarded-For", HeaderId::Other},
      {"Sec-WebSocket-Keys", HeaderId::Other},
      // Names that start with X-Forwarded- but are not one of the four are one id together.
      {"X-Forwarded-", HeaderId::XForwardedOther},
      {"X-Forwarded-Prefix", HeaderId::XForwardedOther},
      {"x-forwarded-fo", HeaderId::XForwardedOther},
      {"X-FORWARDED-FORX", HeaderId::XForwardedOther},
      {"x-forwarded-for-real", HeaderId::XForwardedOther},
      {"X-Forwarded-Hostname", HeaderId::XForwardedOther},
  }));
  CAPTURE(name);
  CHECK(classifyHeaderName(name) == id);
}

TEST_CASE("parser: the token table is RFC 9110 tchar for every byte", "[parser][header_id]") {
  const std::string_view special = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    CAPTURE(c);
    const bool expected = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') ||
                          special.find(static_cast<char>(c)) != std::string_view::npos;
    CHECK(isTokenChar(static_cast<unsigned char>(c)) == expected);
    const std::string one(1, static_cast<char>(c));
    CHECK(isToken(one) == expected);
    CHECK(isToken("a" + one + "b") == expected);
  }
}

TEST_CASE("parser: equalsIgnoreCase folds ASCII letters only", "[parser][header_id]") {
  auto [a, b, equal] = GENERATE(table<std::string, std::string, bool>({
      {"", "", true},
      {"Host", "host", true},
      {"HOST", "hOsT", true},
      {"Host", "Hos", false},
      {"Host", "Hosu", false},
      {"a-b", "A-B", true},
      {"[", "{", false},                // 0x5b and 0x7b differ by 0x20 but are not letters
      {"@", "`", false},                // likewise 0x40 and 0x60
      {"\xc3\x89", "\xc3\xa9", false},  // É and é: not ASCII, compared as bytes
  }));
  CAPTURE(a, b);
  CHECK(equalsIgnoreCase(a, b) == equal);
  CHECK(equalsIgnoreCase(b, a) == equal);
}

// The parser recycles the fields of earlier heads: heads of different shapes in a row must come
// out exactly as if each had been parsed alone, ids included.
TEST_CASE("parser: heads parsed in a row on one parser are independent", "[parser][header_id]") {
  const std::vector<std::pair<std::string, HeaderList>> heads = {
      {"GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "X-Long-Header-Name-Here: a value that is long enough to live on the heap\r\n\r\n",
       {{"Host", "a"},
        {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
        {"X-Long-Header-Name-Here", "a value that is long enough to live on the heap"}}},
      {"GET /2 HTTP/1.1\r\nhost: b\r\n\r\n", {{"host", "b"}}},
      {"GET /3 HTTP/1.1\r\nX-A: 1\r\nHOST: c\r\nContent-Length: 0\r\nX-B: \r\n"
       "Connection: keep-alive\r\nX-C: 3\r\n\r\n",
       {{"X-A", "1"},
        {"HOST", "c"},
        {"Content-Length", "0"},
        {"X-B", ""},
        {"Connection", "keep-alive"},
        {"X-C", "3"}}},
      {"GET /4 HTTP/1.1\r\nHost: d\r\n\r\n", {{"Host", "d"}}},
  };
  RequestParser parser;
  for (int round = 0; round < 3; ++round) {
    for (const auto& [input, expected] : heads) {
      CAPTURE(round, input);
      std::string_view rest = input;
      FeedResult result = parser.feed(rest);
      REQUIRE(result.status == ParseStatus::HeadComplete);
      const HeaderList& got = parser.head().headers;
      CHECK(got == expected);
      for (const HeaderField& field : got) CHECK(field.id == classifyHeaderName(field.name));
      rest.remove_prefix(result.consumed);
      result = parser.feed(rest);
      REQUIRE(result.status == ParseStatus::MessageComplete);
      if (round == 2) {
        // A caller that moves the head out leaves the parser nothing to recycle: still fine.
        RequestHead taken = std::move(parser.head());
        CHECK(taken.headers == expected);
      }
    }
  }
}

}  // namespace
}  // namespace hoplite::parser
