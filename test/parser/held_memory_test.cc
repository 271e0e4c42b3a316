// What a parser keeps between messages: one large head (a long cookie) must not stay allocated
// for the rest of a keep-alive connection, and recycled fields stay within their budget.
#include <catch2/catch.hpp>
#include <string>

#include "parser/message_parser.h"

namespace hoplite::parser {
namespace {

// Far above the largest head that a connection should keep between messages.
constexpr size_t kBigValue = 8000;
constexpr size_t kHeldAtMost = 4096;

// Feeds `bytes` until all are consumed and no event is left to report; returns the events.
template <typename Parser>
std::string feedAll(Parser& parser, std::string_view bytes) {
  std::string seen;
  for (int step = 0; step < 100; ++step) {
    const FeedResult result = parser.feed(bytes);
    REQUIRE(result.status != ParseStatus::Error);
    if (result.status == ParseStatus::HeadComplete) seen += "head ";
    if (result.status == ParseStatus::MessageComplete) seen += "complete ";
    bytes.remove_prefix(result.consumed);
    if (bytes.empty() && result.status != ParseStatus::HeadComplete) break;
  }
  return seen;
}

TEST_CASE("parser: a request with a long cookie leaves little behind once its head is built",
          "[parser][memory]") {
  RequestParser parser;
  const std::string big =
      "GET /a HTTP/1.1\r\nHost: app\r\nCookie: " + std::string(kBigValue, 'c') + "\r\n\r\n";
  const std::string small = "GET /b HTTP/1.1\r\nHost: app\r\nAccept: */*\r\n\r\n";
  // The session moves each head out at HeadComplete, as here.
  CHECK(feedAll(parser, big.substr(0, 40)).empty());
  RequestHead first;
  const FeedResult head = parser.feed(big.substr(40));
  REQUIRE(head.status == ParseStatus::HeadComplete);
  first = std::move(parser.head());
  REQUIRE(first.headers.size() == 2);
  CHECK(first.headers[1].value.size() == kBigValue);
  CHECK(parser.heldBytes() < kHeldAtMost);
  CHECK(feedAll(parser, big.substr(40 + head.consumed)) == "complete ");
  CHECK(parser.heldBytes() < kHeldAtMost);
  CHECK(feedAll(parser, small) == "head complete ");
  CHECK(parser.head().target == "/b");
  CHECK(parser.heldBytes() < kHeldAtMost);
}

TEST_CASE("parser: a kept response parser lets go of a large head and reuses small fields",
          "[parser][memory]") {
  ResponseParser parser;
  const std::string big = "HTTP/1.1 200 OK\r\nSet-Cookie: " + std::string(kBigValue, 's') +
                          "\r\nContent-Length: 2\r\n\r\nok";
  parser.expectResponseTo("GET");
  CHECK(feedAll(parser, big) == "head complete ");
  CHECK(parser.head().headers[0].value.size() == kBigValue);
  CHECK(parser.heldBytes() > kBigValue);  // the head is still the caller's to read
  parser.releaseHead();
  CHECK(parser.heldBytes() < kHeldAtMost);

  // Many responses with many small fields: the spares are reused, and stay within budget.
  std::string many = "HTTP/1.1 204 No Content\r\n";
  for (int i = 0; i < 60; ++i) {
    many += "X-Field-" + std::to_string(i) + ": value number " + std::to_string(i) + "\r\n";
  }
  many += "\r\n";
  for (int round = 0; round < 3; ++round) {
    parser.expectResponseTo("GET");
    CHECK(feedAll(parser, many) == "head complete ");
    const ResponseHead& head = parser.head();
    REQUIRE(head.headers.size() == 60);
    CHECK(head.headers[59].name == "X-Field-59");
    CHECK(head.headers[59].value == "value number 59");
    CHECK(head.headers[0].value == "value number 0");
    parser.releaseHead();
    CHECK(parser.heldBytes() < kHeldAtMost);
  }
}

}  // namespace
}  // namespace hoplite::parser
