// Golden transcripts for ResponseParser: framing, HEAD, 1xx, 101, until-close, truncation.
#include <catch2/catch.hpp>

#include "parser/message_parser.h"
#include "transcript.h"

namespace hoplite::parser {
namespace {

using testing::allSplits;
using testing::responseTranscript;
using testing::TranscriptOptions;

TEST_CASE("parser: response transcripts are the same for every split", "[parser]") {
  auto [name, method, input,
        expected] = GENERATE(table<const char*, std::string, std::string, std::string>({
      {"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
       "head 200 len=5 | body hello | complete | eof"},
      {"chunked with trailers", "GET",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nEtag: x\r\n\r\n",
       "head 200 chunked | body hi | complete trailers Etag:x | eof"},
      {"no reason phrase", "GET", "HTTP/1.1 204\r\n\r\n", "head 204 | complete | eof"},
      {"empty reason phrase", "GET", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
       "head 200 len=0 | complete | eof"},
      {"until close", "GET", "HTTP/1.1 200 OK\r\n\r\nstreamed until close",
       "head 200 eof close | body streamed until close | complete"},
      {"HTTP/1.0 until close", "GET", "HTTP/1.0 200 OK\r\n\r\nold",
       "head 200 1.0 eof close | body old | complete"},
      {"HTTP/1.0 keep-alive with length", "GET",
       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nz",
       "head 200 1.0 len=1 | body z | complete | eof"},
      {"HEAD response with content-length has no body", "HEAD",
       "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "head 200 | complete | eof"},
      {"HEAD response with chunked has no body", "HEAD",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "head 200 | complete | eof"},
      {"204 ignores content-length", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
       "head 204 | complete | eof"},
      {"304 ignores transfer-encoding", "GET",
       "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
       "head 304 | complete | eof"},
      {"100 then final", "POST",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
       "head 100 | complete | head 200 len=2 | body ok | complete | eof"},
      {"two interim responses", "GET",
       "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
       "head 100 | complete | head 103 | complete | head 200 len=0 | complete | eof"},
      {"interim with content-length has no body", "GET",
       "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: "
       "0\r\n\r\n",
       "head 103 | complete | head 200 len=0 | complete | eof"},
      {"101 leaves the next bytes", "GET",
       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
       "Upgrade\r\n\r\n\x81\x02hi",
       "head 101 upgrade | complete paused | rest \x81\x02hi"},
      {"101 without Upgrade fields", "GET", "HTTP/1.1 101 Switching Protocols\r\n\r\nraw",
       "head 101 | complete paused | rest raw"},
      {"pipelined responses", "GET",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: "
       "1\r\n\r\nb",
       "head 200 len=1 | body a | complete | head 404 len=1 | body b | complete | eof"},
      {"connection close with length", "GET",
       "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
       "head 200 len=1 close | body x | complete | eof"},
      // Truncation and refusals.
      {"truncated length body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
       "head 200 len=5 | body hel | error 502"},
      {"truncated chunked body", "GET",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
       "head 200 chunked | body hello | error 502"},
      {"truncated head", "GET", "HTTP/1.1 200 OK\r\nContent-", "error 502"},
      {"both CL and TE", "GET",
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", "error 502"},
      {"bad chunk size", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
       "head 200 chunked | error 502"},
      {"obs-fold", "GET", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
       "error 502"},
      {"bad content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 1.5\r\n\r\n", "error 502"},
      {"differing content-lengths", "GET",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "error 502"},
      {"gzip transfer coding", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
       "error 502"},
      {"gzip then chunked", "GET",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "error 502"},
      {"HTTP/2.0 status line", "GET", "HTTP/2.0 200 OK\r\n\r\n", "error 502"},
      {"two-digit status", "GET", "HTTP/1.1 20 OK\r\n\r\n", "error 502"},
      {"bare LF", "GET", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "error 502"},
      {"control char in reason", "GET", "HTTP/1.1 200 O\x01K\r\n\r\n", "error 502"},
      {"response after close", "GET",
       "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
       "head 200 len=0 close | complete | error 502"},
  }));
  CAPTURE(name);
  TranscriptOptions options;
  options.finishAtEnd = true;
  options.expectMethod = method;
  for (const std::vector<std::string>& chunks : allSplits(input)) {
    CAPTURE(chunks.size(), chunks.front().size());
    REQUIRE(responseTranscript(chunks, options) == expected);
  }
}

TEST_CASE("parser: 101: the bytes after the head are not consumed and more input is an error",
          "[parser]") {
  ResponseParser parser;
  parser.expectResponseTo("GET");
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  std::string input = head + "\x81\x05hello";
  FeedResult r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::HeadComplete);
  REQUIRE(r.consumed == head.size());
  CHECK(parser.head().status == 101);
  CHECK(parser.head().reason == "Switching Protocols");
  CHECK(parser.head().upgradeSignalled);
  CHECK(parser.head().framing == Framing::None);
  input.erase(0, r.consumed);
  r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::MessageComplete);
  REQUIRE(r.consumed == 0);
  REQUIRE(parser.betweenMessages());
  r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::Error);
  REQUIRE(parser.feed(input).status == ParseStatus::Error);
}

TEST_CASE("parser: expectResponseTo applies per response", "[parser]") {
  ResponseParser parser;
  parser.expectResponseTo("HEAD");
  std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
  REQUIRE(parser.feed(input).status == ParseStatus::HeadComplete);
  CHECK(parser.head().framing == Framing::None);
  REQUIRE(parser.feed({}).status == ParseStatus::MessageComplete);
  parser.expectResponseTo("GET");
  input += "abc";
  FeedResult r = parser.feed(input);
  REQUIRE(r.status == ParseStatus::HeadComplete);
  CHECK(parser.head().framing == Framing::Length);
  CHECK(parser.head().contentLength == 3);
  std::string body;
  parser.setBodyHandler([&body](std::string_view s) { body.append(s); });
  r = parser.feed(std::string_view(input).substr(r.consumed));
  REQUIRE(r.status == ParseStatus::MessageComplete);
  CHECK(body == "abc");
}

TEST_CASE("parser: response heads keep reason, fields and status", "[parser]") {
  ResponseParser parser;
  REQUIRE(
      parser
          .feed("HTTP/1.1 404 Not  Found\r\nServer: x \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
                "Content-Length: 0\r\n\r\n")
          .status == ParseStatus::HeadComplete);
  const ResponseHead& h = parser.head();
  CHECK(h.status == 404);
  CHECK(h.reason == "Not  Found");
  const HeaderList expected{
      {"Server", "x"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"Content-Length", "0"}};
  CHECK(h.headers == expected);
  CHECK(h.keepAlive);
}

TEST_CASE("parser: response head size and field count are bounded", "[parser]") {
  ParserLimits limits;
  limits.maxHeaderBytes = 64;
  ResponseParser big(limits);
  REQUIRE(big.feed("HTTP/1.1 200 OK\r\nX: " + std::string(100, 'y') + "\r\n\r\n").status ==
          ParseStatus::Error);
  CHECK(big.error().status == 502);
  limits = {};
  limits.maxHeaderCount = 1;
  ResponseParser many(limits);
  REQUIRE(many.feed("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n").status == ParseStatus::Error);
  CHECK(many.error().status == 502);
  CHECK(big.error().reason != many.error().reason);
}

TEST_CASE("parser: finish between responses is a clean end", "[parser]") {
  ResponseParser parser;
  REQUIRE(parser.betweenMessages());
  REQUIRE(parser.finish().status == ParseStatus::NeedMore);
}

}  // namespace
}  // namespace hoplite::parser
